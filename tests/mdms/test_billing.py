"""Billing determinants on a hand-computed day: TOU split, demand, readiness, V05 again."""

from __future__ import annotations

from tests.mdms.vee_world import B0, DAY, cumulative, make_mdms, reads


def bill_row(mdms: object) -> dict[str, object]:
    rows = mdms.bill(DAY, DAY).to_pylist()  # type: ignore[attr-defined]
    assert len(rows) == 1
    return rows[0]  # type: ignore[no-any-return]


def test_tou_split_demand_readiness_and_register_check() -> None:
    mdms = make_mdms()
    values = [100] * 48
    values[40] = 500  # 20:00-20:30 JST
    mdms.ingest(reads(cumulative(10_000, values)))
    row = bill_row(mdms)
    # day band 07:00-23:00 = slots 14…45 (32 slots): 31 × 100 + 500; night: 16 × 100
    assert (row["import_wh"], row["day_import_wh"], row["night_import_wh"]) == (5200, 3600, 1600)
    assert row["max_demand_w"] == 1000  # 500 Wh in half an hour
    assert (row["measured"], row["missing"], row["billing_ready"]) == (48, 0, False)
    assert (row["register_wh"], row["v05_ok"]) == (5200, True)

    mdms.finalize(B0, B0 + 47, "billing")
    assert bill_row(mdms)["billing_ready"] is True

    mdms.edit(1, [B0 + 3], [150], [0], "fay", "test the sum check")
    row = bill_row(mdms)
    assert (row["import_wh"], row["edited"], row["v05_ok"]) == (5250, 1, False)


def test_missing_values_make_a_period_not_billing_ready() -> None:
    mdms = make_mdms()
    mdms.ingest(reads(cumulative(10_000, [100] * 10)))  # only 00:00-05:00 JST
    row = bill_row(mdms)
    assert (row["import_wh"], row["measured"], row["missing"]) == (1000, 10, 38)
    assert row["billing_ready"] is False and row["v05_ok"] is None  # no read at 24:00
