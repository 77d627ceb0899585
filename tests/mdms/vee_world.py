"""A one-supply-point MDMS world for hand-computed VEE cases."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.bus.messages import READ_SCHEMA
from openami.clock import ManualClock, day_first_slot, slot_start
from openami.mdms import Mdms
from openami.mdms.vee_config import VeeConfig, decode_flags
from openami.registry import BalancingGroup, Meter, Registry, Retailer, make_supply_point_id
from openami.storage.duckdb_interval import DuckIntervalStore

DAY = date(2026, 11, 1)
B0 = day_first_slot(DAY)  # 2026-11-01 00:00 JST
METER = 7
SP_ID = make_supply_point_id("03", 1)


def make_mdms(cfg: VeeConfig | None = None, amps: int = 30) -> Mdms:
    registry = Registry.open(":memory:")
    keys = registry.add_supply_points([SP_ID])
    registry.add_meters(
        [
            Meter(METER, "Toshiba", "S1", amps, "mesh", None, date(2030, 1, 1)),
            Meter(8, "Toshiba", "S2", amps, "mesh", None, date(2030, 1, 1)),
        ]
    )
    registry.install_meters([(keys[0], METER)], 0.0)
    clock = ManualClock(datetime(2026, 11, 20, tzinfo=UTC))
    return Mdms(DuckIntervalStore(), registry, clock, cfg)


def with_rule(cfg: VeeConfig, rule_id: str, **params: float) -> VeeConfig:
    rule = cfg.rules[rule_id]
    new = dataclasses.replace(rule, params={**rule.params, **params})
    return dataclasses.replace(cfg, rules={**cfg.rules, rule_id: new})


def reads(
    rows: list[tuple[int, int, int | None]], meter: int = METER, **extra: list[object]
) -> pa.Table:
    """Register reads at boundaries ``B0 + b``: rows of (b, import Wh, export Wh or None)."""
    table = pa.table(
        {
            "meter_id": [meter] * len(rows),
            "boundary": [B0 + b for b, _, _ in rows],
            "import_register_wh": [i for _, i, _ in rows],
            "export_register_wh": [e for _, _, e in rows],
            "received_at": [float((B0 + b) * 1800 + 60) for b, _, _ in rows],
            "source": [0] * len(rows),
        },
        schema=READ_SCHEMA,
    )
    for name, col in extra.items():
        table = table.append_column(name, pa.array(col))
    return table


def cumulative(start_wh: int, values: list[int], first_b: int = 0) -> list[tuple[int, int, int]]:
    """Reads whose differences are ``values`` (export register fixed at 0)."""
    regs = np.concatenate([[start_wh], start_wh + np.cumsum(values)]).tolist()
    return [(first_b + i, int(r), 0) for i, r in enumerate(regs)]


def current(mdms: Mdms, first: int, last: int) -> list[dict[str, object]]:
    """Current values of supply point key 1 at B0+first … B0+last, flags decoded."""
    rows = mdms.current_values(1, B0 + first, B0 + last).to_pylist()
    for r in rows:
        r["slot"] = int(r["slot"]) - B0  # type: ignore[call-overload]
        r["flags"] = decode_flags(int(r["vee_flags"] or 0))  # type: ignore[call-overload]
    return rows


def make_data_dir(path: Path, n: int, amps: int = 60) -> list[str]:
    """A data directory (registry.sqlite) with ``n`` supply points, meter ``1000 + i`` at
    supply point ``i`` since the epoch; returns the supply point IDs."""
    path.mkdir(parents=True, exist_ok=True)
    registry = Registry.open(path / "registry.sqlite")
    ids = [make_supply_point_id("03", 100 + i) for i in range(n)]
    keys = registry.add_supply_points(ids)
    registry.add_meters(
        [
            Meter(1000 + i, "Toshiba", f"N{i}", amps, "mesh", None, date(2030, 1, 1))
            for i in range(n)
        ]
    )
    registry.install_meters([(k, 1000 + i) for i, k in enumerate(keys)], 0.0)
    registry.add_balancing_groups([BalancingGroup("BG1", "group one")])
    registry.add_retailers([Retailer("R1", "retailer one", "BG1")])
    registry.add_supply_contracts([(k, "R1", date(2026, 1, 1), None) for k in keys])
    registry.close()
    return ids


def reads_csv(
    path: Path, ids: list[str], slots: int, seed: int = 3, order: str = "arrival"
) -> Path:
    """Register reads for every supply point at ``slots + 1`` boundaries from B0, in arrival
    order (all points for one boundary, then the next) or, with ``order="meter"``, point by
    point (a day file per meter: the 00:00 opening read, then the day's 48 reads)."""
    rng = np.random.default_rng(seed)
    regs = 10_000 + np.cumsum(rng.integers(0, 900, (slots + 1, len(ids))), axis=0)
    lines = ["supply_point_id,slot_start,import_register_wh,export_register_wh"]
    starts = [slot_start(B0 + b).isoformat() for b in range(slots + 1)]
    if order == "meter":
        for i, sp in enumerate(ids):
            lines += [f"{sp},{starts[b]},{int(regs[b, i])},0" for b in range(slots + 1)]
    for b in range(slots + 1 if order == "arrival" else 0):
        lines += [f"{sp},{starts[b]},{int(regs[b, i])},0" for i, sp in enumerate(ids)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
