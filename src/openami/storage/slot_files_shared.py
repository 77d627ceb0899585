"""Slot-file values and value changes from the shared interval store (hub replicas).

A hub replica (``openami serve hub``) has no DuckDB interval store of its own: the values
it writes slot files from are those the MDMS workers publish to the shared Delta table
(:mod:`openami.storage.shared_values`). Two things are read from there:

- **what changed**: the value versions committed after a given table version. Every new
  version reaches the table as a ``shape=tick`` file first (compaction and windows only
  reshape what is there), so the ``add`` actions of the commit files
  ``_delta_log/<version>.json`` after the given version name every tick file with new
  versions, even those compacted away since (compaction leaves removed files on disk until
  ``vacuum``, an hour later). The cursor is the table version, not a recording time: a
  version published seconds after it was recorded is still seen (a recording-time window
  would miss it once it has moved past);
- **the values of a slot**: every point's current version from
  :meth:`SharedValuesReader.slot_values`.

The shared store keeps no recording time per value (``recorded_at`` comes back null), so a
correction pass is decided by versions alone: the points whose current version is newer
than the version the earlier files gave them.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.exceptions import TableNotFoundError

from openami.bus.messages import QUALITY_NAMES
from openami.log import get_logger
from openami.storage.point_read import INVALID_CODE
from openami.storage.shared_layout import SHAPE_TICK
from openami.storage.shared_read import SharedValuesReader

log = get_logger(__name__)
_QUALITY_BY_CODE = pa.array(QUALITY_NAMES, pa.string())
#: the columns :func:`openami.storage.slot_files_values.read_versions` gives
VERSIONS_SCHEMA = pa.schema(
    [
        ("supply_point_key", pa.int64()),
        ("version", pa.int32()),
        ("import_wh", pa.int64()),
        ("export_wh", pa.int64()),
        ("quality", pa.string()),
        ("recorded_at", pa.float64()),
    ]
)
CHANGES_SCHEMA = pa.schema([("supply_point_key", pa.int64()), ("slot", pa.int64())])


def _log_path(root: Path, version: int) -> Path:
    return root / "_delta_log" / f"{version:020d}.json"


def added_tick_files(root: Path, after_version: int, until_version: int) -> list[str]:
    """The tick files added by the commits ``after_version + 1 … until_version`` (paths
    relative to ``root``), in commit order. A commit file no longer there (Delta drops
    them after its log retention, 30 days) is skipped with a warning."""
    paths: list[str] = []
    for version in range(after_version + 1, until_version + 1):
        try:
            with _log_path(root, version).open(encoding="utf-8") as fh:
                lines = fh.readlines()
        except FileNotFoundError:
            log.warning("slot_files.commit_gone", version=version)
            continue
        for line in lines:
            action = json.loads(line).get("add") if line.strip() else None
            if action and action.get("partitionValues", {}).get("shape") == SHAPE_TICK:
                paths.append(unquote(str(action["path"])))
    return paths


class SharedSlotSource:
    """The slot-file source over the shared interval store that ``reader`` follows."""

    #: recording times are not kept: corrections compare versions only
    recorded_times = False

    def __init__(self, reader: SharedValuesReader) -> None:
        self.reader = reader
        self.root = Path(reader.uri)

    def version(self) -> int:
        """The table version now (-1: no MDMS worker has published yet)."""
        try:
            return self.reader.refresh()
        except TableNotFoundError:
            return -1

    def changes(self, after_version: int, until_version: int) -> pa.Table:
        """The (supply point, slot) pairs with a version committed after ``after_version``
        up to ``until_version`` (a pair twice when it got two versions: the callers count
        distinct pairs). A tick file vacuumed meanwhile (a deployment
        stopped for longer than the retention) is skipped with a warning: its slots'
        deadline passes still come."""
        parts = [CHANGES_SCHEMA.empty_table()]
        for path in added_tick_files(self.root, after_version, until_version):
            try:
                rows = pq.read_table(self.root / path, columns=CHANGES_SCHEMA.names)
            except FileNotFoundError:
                log.warning("slot_files.tick_file_gone", path=path)
                continue
            parts.append(rows.cast(CHANGES_SCHEMA))
        return pa.concat_tables(parts)

    def changed_slots(self, after_s: float, until_s: float) -> list[int]:
        """(The interface of the DuckDB source; a replica asks :meth:`changes` instead.)"""
        raise NotImplementedError("the shared store's changes are asked by table version")

    def versions(
        self,
        slot: int,
        as_of_s: float,
        changed_after_s: float | None,
        audience_keys: pa.Table | None,
    ) -> pa.Table:
        """Every point's current version of ``slot`` in the table's latest snapshot (the
        pass is as of that snapshot; ``as_of_s`` and ``changed_after_s`` are not known per
        value here), of the ``audience_keys`` only when given."""
        try:
            rows = self.reader.slot_values(slot, ("import_wh", "export_wh"))
        except TableNotFoundError:
            return VERSIONS_SCHEMA.empty_table()
        if audience_keys is not None:
            wanted = audience_keys.column("supply_point_key").to_numpy()
            inside = np.isin(rows.column("supply_point_key").to_numpy(), wanted)
            rows = rows.filter(pa.array(inside))
        stored = pc.fill_null(rows.column("qcode"), INVALID_CODE).cast(pa.int64())
        codes = pc.if_else(pc.less(stored, len(QUALITY_NAMES)), stored, INVALID_CODE)
        return pa.table(
            {
                "supply_point_key": rows.column("supply_point_key").cast(pa.int64()),
                "version": rows.column("version").cast(pa.int32()),
                "import_wh": rows.column("import_wh").cast(pa.int64()),
                "export_wh": rows.column("export_wh").cast(pa.int64()),
                "quality": _QUALITY_BY_CODE.take(codes),
                "recorded_at": pa.nulls(rows.num_rows, pa.float64()),
            },
            schema=VERSIONS_SCHEMA,
        )
