"""Collection KPIs per JST day, by communication method and by area.

For day D the expected register reads are those at the 48 slot *ends* of D (boundaries
``first+1 … first+48``), one per installed meter. A read counts once, at its first arrival.

- ``collection_30min_rate``: reads received within 30 minutes of their boundary ÷ expected.
- ``delivery_60min_rate``: reads received within 60 minutes ÷ expected (the C-route rule).
- ``collection_48h_rate``: reads received within 48 hours (after retries and backfill).
- ``automatic_reading_rate`` (自動検針率): meters whose 48 half-hour values of D are all
  measured from A-route reads ÷ meters installed.
- ``network_connection_rate``: meters with at least one register read *received* during D
  (00:00–24:00 JST; scheduled, retried or backfilled) ÷ meters installed.

With the HES journal (read through the :class:`HesJournal` port) two more:
- ``remote_operation_success_rate``: disconnect, reconnect and ampere-setting commands
  issued during D that were confirmed by read-back within their timeout ÷ those issued
  that reached a terminal state (confirmed, timed out, failed);
- ``clock_compliance_rate``: meters whose clock was within the threshold at their last
  contact of D ÷ meters whose clock was read during D.
Without a journal, or without any such command or clock read, these are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa

from openami.bus.messages import DELIVERY_DEADLINE_S, REMOTE_OPERATIONS, CommandState
from openami.clock import DAY_SECONDS, SLOT_SECONDS, SLOTS_PER_DAY
from openami.registry import Registry
from openami.storage.duckdb_interval import DuckIntervalStore
from openami.storage.mdms_kpi import collection_counts, journal_counts


class HesJournal(Protocol):
    """What the KPIs read of the HES's journal (the HES's ``HesJournal`` is one): command
    outcomes (:data:`openami.bus.messages.COMMAND_SCHEMA`) and daily clock checks
    (:data:`openami.bus.messages.CLOCK_DAY_SCHEMA`). A read port: the MDMS never imports
    the HES."""

    def commands(self) -> pa.Table: ...

    def clock_days(self) -> pa.Table: ...


KPI_NAMES = (
    "network_connection_rate",
    "collection_30min_rate",
    "delivery_60min_rate",
    "collection_48h_rate",
    "automatic_reading_rate",
    "remote_operation_success_rate",
    "clock_compliance_rate",
)
GROUPINGS = ("comm_method", "area_code", "concentrator_id")
REMOTE_OPERATION_KINDS = tuple(int(k) for k in REMOTE_OPERATIONS)
#: reads counted by how soon after their boundary they first arrived [s]
COLLECTION_WITHIN_S = {
    "reads_within_30min": float(SLOT_SECONDS),
    "reads_within_60min": DELIVERY_DEADLINE_S,
    "reads_within_48h": 2 * float(DAY_SECONDS),
}


@dataclass(frozen=True)
class KpiRow:
    group: str
    meters: int
    collection_30min_rate: float
    delivery_60min_rate: float
    collection_48h_rate: float
    automatic_reading_rate: float
    network_connection_rate: float = 0.0
    remote_operation_success_rate: float | None = None
    clock_compliance_rate: float | None = None


def daily_kpis(
    store: DuckIntervalStore,
    registry: Registry,
    day: date,
    by: str = "comm_method",
    journal: HesJournal | None = None,
    meters: pa.Table | None = None,
) -> list[KpiRow]:
    """KPI rows for ``day`` grouped by ``comm_method``, ``area_code`` or ``concentrator_id``;
    the last row is the total (group ``all``). ``meters`` defaults to the registry's."""
    if by not in GROUPINGS:
        raise ValueError(f"cannot group KPIs by {by!r}")
    if meters is None:
        meters = registry.meters_table()
    table = collection_counts(store, meters, by, day, COLLECTION_WITHIN_S)
    extra = _journal_kpis(store, meters, by, day, journal) if journal is not None else {}
    return [_row(r, extra) for r in table.to_pylist()]


def _journal_kpis(
    store: DuckIntervalStore, meters: pa.Table, by: str, day: date, journal: HesJournal
) -> dict[str, tuple[float | None, float | None]]:
    """Per group: (remote operation success rate, clock compliance rate)."""
    table = journal_counts(
        store,
        meters,
        by,
        day,
        (journal.commands(), journal.clock_days()),
        REMOTE_OPERATION_KINDS,
        int(CommandState.CONFIRMED),
    )
    out: dict[str, tuple[float | None, float | None]] = {}
    for r in table.to_pylist():
        grp = "all" if r["grp"] is None else str(r["grp"])
        issued, checked = r["issued"] or 0, r["checked"] or 0
        out[grp] = (
            r["confirmed"] / issued if issued else None,
            r["ok"] / checked if checked else None,
        )
    return out


def _row(r: dict[str, object], extra: dict[str, tuple[float | None, float | None]]) -> KpiRow:
    n = int(r["meters"])  # type: ignore[call-overload]
    expected = max(n * SLOTS_PER_DAY, 1)
    group = str(r["grp"]) if r["grp"] is not None else "all"
    remote, clock = extra.get(group, (None, None))

    def rate(key: str) -> float:
        return float(r[key] or 0) / expected  # type: ignore[arg-type]

    return KpiRow(
        group=group,
        meters=n,
        collection_30min_rate=rate("reads_within_30min"),
        delivery_60min_rate=rate("reads_within_60min"),
        collection_48h_rate=rate("reads_within_48h"),
        automatic_reading_rate=float(r["amr"] or 0) / max(n, 1),  # type: ignore[arg-type]
        network_connection_rate=float(r["connected"] or 0) / max(n, 1),  # type: ignore[arg-type]
        remote_operation_success_rate=remote,
        clock_compliance_rate=clock,
    )


def kpi_table(rows: list[KpiRow]) -> pa.Table:
    return pa.Table.from_pylist([row.__dict__ for row in rows])
