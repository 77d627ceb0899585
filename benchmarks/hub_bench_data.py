"""Data set of the hub API benchmark (not a benchmark itself): a city and its half-hour data,
bulk-loaded into the interval store the way the dense VEE ingest stores them, and cached.

The registry comes from ``build_city``; every supply point gets one **day row** per JST day
(``day_rows``: the read at the day's first boundary and the 48 register reads that end its
slots, value lists NULL because every value is a measured register difference — what the
ingest writes for nearly every point-day), built from the load model
(``interval_energy_wh``) as NumPy grids and appended one day (all points) per transaction,
with one ``ingest_log`` row each. 100,000 points × 45 days is 4.5 million day rows
(216 million half-hour values).

A data set is kept under ``--dir`` (``<dir>/<meters>x<days>/``, with ``info.json`` written
last): a later run with the same size reuses it instead of building it again.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from openami.clock import JST, SLOTS_PER_DAY, day_first_slot

DAY1 = date(2026, 11, 1)
SECRET = "bench-secret-not-for-production"
ID_KEY = b"bench-id-key-not-for-production!"
READ_SOURCE_HES = 1  # day rows of the bench come from the head-end
REASON = "register difference"


def _lists(grid: np.ndarray) -> pa.FixedSizeListArray:
    """(rows × 48) int64 as a ``BIGINT[48]`` column."""
    flat = pa.array(np.ascontiguousarray(grid).ravel(), pa.int64())
    return pa.FixedSizeListArray.from_arrays(flat, SLOTS_PER_DAY)


def _day_rows(
    keys: np.ndarray,
    meter_ids: np.ndarray,
    first_slot: int,
    opening: tuple[np.ndarray, np.ndarray],
    values_wh: tuple[np.ndarray, np.ndarray],
) -> pa.Table:
    """One day row per point: registers = opening read + running sums of the values."""
    imp_wh, exp_wh = (np.asarray(v, dtype=np.int64).T for v in values_wh)  # point × slot
    imp_reg = opening[0][:, None] + np.cumsum(imp_wh, axis=1)
    exp_reg = opening[1][:, None] + np.cumsum(exp_wh, axis=1)
    n = len(keys)
    received_s = (first_slot + SLOTS_PER_DAY) * 1800.0 + 120.0
    return pa.table(
        {
            "supply_point_key": pa.array(keys, pa.int64()),
            "day_first_slot": pa.array(np.full(n, first_slot, np.int64)),
            "meter_id": pa.array(meter_ids, pa.int64()),
            "prev_import_register_wh": pa.array(opening[0], pa.int64()),
            "prev_export_register_wh": pa.array(opening[1], pa.int64()),
            "import_register_wh": _lists(imp_reg),
            "export_register_wh": _lists(exp_reg),
            "received_at": pa.array(np.full(n, received_s)),
            "source": pa.array(np.full(n, READ_SOURCE_HES, np.uint8)),
            "max_import_wh": pa.array(imp_wh.max(axis=1)),
        }
    )


def _load_days(store: object, city: object, meters: int, days: int) -> int:
    from openami.meter.load import interval_energy_wh
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.duckdb_mdms import append_day_rows

    assert isinstance(store, DuckIntervalStore)
    keys = np.asarray(city.supply_point_keys, dtype=np.int64)  # type: ignore[attr-defined]
    order = np.argsort(keys, kind="stable")  # rows by supply point (zone maps)
    keys = keys[order]
    meter_ids = np.arange(1, meters + 1, dtype=np.int64)[order]  # build_city: meter i+1
    index = order.astype(np.int64)
    fleet = city.fleet  # type: ignore[attr-defined]
    opening = (np.full(meters, 1_000_000, np.int64), np.zeros(meters, np.int64))
    values = 0
    for d in range(days):
        first = day_first_slot(DAY1 + timedelta(days=d))
        slots = first + np.arange(SLOTS_PER_DAY, dtype=np.int64)
        imp, exp = interval_energy_wh(fleet.params, index[None, :], slots[:, None], fleet.seed)
        rows = _day_rows(keys, meter_ids, first, opening, (imp, exp))
        opening = (
            np.asarray(rows.column("import_register_wh").combine_chunks().values)[47::48],
            np.asarray(rows.column("export_register_wh").combine_chunks().values)[47::48],
        )
        seq = d + 1
        recorded_s = (first + SLOTS_PER_DAY) * 1800.0 + 120.0
        with store.transaction() as cur:
            cur.execute(
                "INSERT INTO ingest_log (ingest_seq, recorded_at, rows_in, reads_new, "
                "values_new, reason) VALUES (?, ?, ?, ?, ?, ?)",
                [seq, recorded_s, meters, meters * 48, meters * 48, REASON],
            )
            append_day_rows(cur, rows, seq)
        values += meters * SLOTS_PER_DAY
    return values


def build(root: Path, meters: int, days: int) -> tuple[Path, dict[str, object]]:
    """The data directory of ``meters`` × ``days`` under ``root`` (built unless cached) and
    what the bench needs of it (``info.json``)."""
    data_dir = root / f"{meters}x{days}"
    info_path = data_dir / "info.json"
    if info_path.exists():
        return data_dir, json.loads(info_path.read_text())
    if data_dir.exists():
        shutil.rmtree(data_dir)  # a half-built one
    data_dir.mkdir(parents=True)

    from openami.clock import ManualClock
    from openami.mdms import Mdms
    from openami.registry import Registry
    from openami.sim import CityConfig, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.clients import ApiClient, ClientStore

    t0 = time.perf_counter()
    database = open_database(data_dir / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=meters, seed=3, start_day=DAY1), registry)
    city_s = time.perf_counter() - t0
    store = DuckIntervalStore(data_dir / "interval.duckdb")
    Mdms(store, registry, ManualClock(datetime.combine(DAY1, datetime.min.time(), JST)))
    values = _load_days(store, city, meters, days)  # (the MDMS made its schema above)
    store.close()  # checkpoints: the servers open a database without a WAL to replay
    load_s = time.perf_counter() - t0 - city_s
    retailer = registry.retailer_on(city.supply_point_keys[0], DAY1)
    assert retailer is not None
    ClientStore(database).register(ApiClient("bench", "retailer", retailer), SECRET)
    # the bench's points: ones the bench retailer supplies, spread over the key range
    mine = sorted({str(sp) for _, sp, _, _ in registry.supplied_points(retailer, DAY1, DAY1, None)})
    registry.close()
    end = datetime.combine(DAY1 + timedelta(days=days), datetime.min.time(), JST)
    info: dict[str, object] = {
        "meters": meters,
        "days": days,
        "values": values,
        "now_s": end.timestamp() + 3600,
        "supplied": len(mine),
        "points": mine[:: max(1, len(mine) // 200)][:200],
        "city_s": round(city_s, 1),
        "load_s": round(load_s, 1),
    }
    info_path.write_text(json.dumps(info))
    return data_dir, info
