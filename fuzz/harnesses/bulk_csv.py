"""Bulk import, CSV: any bytes as an import file (see :mod:`fuzz.harnesses.bulk_common`)."""

from __future__ import annotations

from collections.abc import Callable

from fuzz.harnesses.bulk_common import ALLOWED, METER_ID, SP_ID, make_one_input

__all__ = ["ALLOWED", "seeds", "setup"]
MAX_LEN = 2048
HEADER = "supply_point_id,slot_start,import_register_wh,export_register_wh"


def setup() -> Callable[[bytes], None]:
    return make_one_input(".csv", 1)


def seeds() -> dict[str, bytes]:
    rows = [
        f"{SP_ID},2026-11-01T{h:02d}:{m:02d}:00+09:00,{1000 + h * 60 + m},0"
        for h in range(2)
        for m in (0, 30)
    ]
    good = "\n".join([HEADER, *rows]) + "\n"
    with_meter = "\n".join([HEADER + ",meter_id", *(r + f",{METER_ID}" for r in rows)]) + "\n"
    bad = (
        "\n".join(
            [
                HEADER,
                f"{SP_ID},2026-11-01T00:10:00+09:00,5,",  # off the grid
                f"{SP_ID},2026-11-01T00:30:00,5,",  # no offset
                f"{SP_ID[:-1]},2026-11-01T01:00:00Z,x,1",  # short id, not a number
                f"{SP_ID},2026-11-01T01:30:00+09:00,-1,-1",
                rows[0],
                rows[0].replace(",1000,", ",1001,"),  # duplicate with other registers
            ]
        )
        + "\n"
    )
    return {
        "good": good.encode(),
        "with-meter-id": with_meter.encode(),
        "bad-rows": bad.encode(),
        "missing-column": b"supply_point_id,slot_start\n" + SP_ID.encode() + b",x\n",
        "quoted": (
            '"supply_point_id","slot_start","import_register_wh","export_register_wh"\n'
            f'"{SP_ID}","2026-11-01T00:00:00+09:00","1",""\n'
        ).encode(),
    }
