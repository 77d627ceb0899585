"""What one emulated meter keeps across a restart: its invocation counters, its clock offset.

Each meter has one state document (:class:`MeterDocument`, written through on every change,
its other fields kept); the counters and the clock each write their own fields.

:class:`PersistentCounterStore` is the association machine's
:class:`~openami.protocols.dlms.server_acse.CounterStore`, written through to a
:class:`MeterStateStore` (in practice :class:`openami.storage.dlms_counters.MeterCounterFiles`,
wired by the CLI: the meter never opens a data file itself).

- A client counter is saved *before* the APDU that carries it is served: after a restart the
  meter still refuses it (an old AARQ, a captured ciphered ACTION).
- The meter's own counter is reserved in blocks of :data:`SERVER_COUNTER_RESERVE`: the file
  holds a value above every counter sent, and a restart continues above it (a gap, never a
  reuse), so the meter's counters cost one write per block, not per APDU.
- The clock's offset from the field's time (``clock_offset_s``, moved by a SET of the
  Clock's time) is saved before the SET is answered, and the meter starts from it again.
- A document that does not have the expected shape raises ``ValueError``: no counter or
  offset is guessed.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from openami.meter.dlms.clock_object import MAX_OFFSET_S

SERVER_COUNTER_RESERVE = 1000
MAX_COUNTER = 0xFFFF_FFFF


class MeterStateStore(Protocol):
    """Where a meter's counters live between runs (one document per meter id)."""

    def load(self, meter_id: int) -> dict[str, Any] | None: ...

    def save(self, meter_id: int, document: dict[str, Any]) -> None: ...


class MeterDocument:
    """One meter's state document: read once, written whole on every change (the fields
    of the others kept)."""

    def __init__(self, meter_id: int, state: MeterStateStore) -> None:
        self.meter_id = meter_id
        self.state = state
        self.fields: dict[str, Any] = dict(state.load(meter_id) or {})

    def update(self, **changes: Any) -> None:
        document = {**self.fields, **changes}
        self.state.save(self.meter_id, document)
        self.fields = document

    def clock_offset_s(self) -> float:
        """The saved offset of the meter's clock from the field's time (0 when none)."""
        value = self.fields.get("clock_offset_s", 0.0)
        if (
            not isinstance(value, (int, float))
            or isinstance(value, bool)
            or not math.isfinite(value)
            or abs(value) > MAX_OFFSET_S
        ):
            raise ValueError(f"meter state of meter {self.meter_id}: bad clock offset {value!r}")
        return float(value)

    def save_clock_offset(self, offset_s: float) -> None:
        self.update(clock_offset_s=float(offset_s))


def _counter(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not -1 <= value <= MAX_COUNTER:
        raise ValueError(f"meter state: {what} is not an invocation counter: {value!r}")
    return value


class PersistentCounterStore:
    """A :class:`CounterStore` that writes every change it must not forget."""

    def __init__(
        self, meter_id: int, state: MeterStateStore, document: MeterDocument | None = None
    ) -> None:
        self.meter_id = meter_id
        self.document = document or MeterDocument(meter_id, state)
        fields = self.document.fields
        clients = fields.get("clients", {})
        if not isinstance(clients, dict):
            raise ValueError("meter state: clients is not a mapping")
        try:
            self.client = {
                bytes.fromhex(title): _counter(ic, f"client {title}")
                for title, ic in clients.items()
            }
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meter state of meter {meter_id}: {exc}") from exc
        self.highest = max(self.client.values(), default=-1)
        self._reserved = _counter(fields.get("server_reserved", 0), "server_reserved")
        self.server = self._reserved  # continue above every counter possibly sent

    def _save(self, client: dict[bytes, int], reserved: int) -> None:
        self.document.update(
            clients={title.hex(): ic for title, ic in client.items()}, server_reserved=reserved
        )

    def accept_client_counter(self, client_title: bytes, ic: int) -> bool:
        if ic <= self.client.get(client_title, -1):
            return False
        updated = {**self.client, client_title: ic}
        self._save(updated, self._reserved)  # durable before the APDU is served
        self.client = updated
        self.highest = max(self.highest, ic)
        return True

    def expected_client_counter(self, client_title: bytes) -> int:
        return self.client.get(client_title, -1) + 1

    def next_server_counter(self) -> int:
        counter = self.server + 1
        if counter > MAX_COUNTER:
            raise ValueError("the meter's invocation counter is exhausted: change its keys")
        if counter > self._reserved:
            reserved = min(MAX_COUNTER, counter + SERVER_COUNTER_RESERVE)
            self._save(self.client, reserved)
            self._reserved = reserved
        self.server = counter
        return counter


__all__ = [
    "SERVER_COUNTER_RESERVE",
    "MeterDocument",
    "MeterStateStore",
    "PersistentCounterStore",
]
