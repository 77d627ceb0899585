"""Statistical model of the A-route networks (mesh through concentrators, cellular, PLC).

Each meter gets, from the seed, a hop count (from its method's hop distribution), a network
*segment* (its concentrator for mesh and PLC, its cell for cellular) and possibly a place in
the noisy minority. One delivery attempt then succeeds with probability

    base × (1 − hop_loss)^(hops − 1) × (1 − load_loss × load) × interference

where ``load`` is the number of meters of the same segment in the same attempt batch over
the segment's capacity, so first attempts at a busy :00/:30 fail more often than retries.
A session lasts ``setup + round_trips × (first hop + per-hop × (hops − 1))`` and the
reading reaches the HES a log-normal back-haul delay later.

Outages make meters unreachable over a period; with ``rejoin`` each meter comes back only
after a method-dependent re-join delay (mesh re-formation takes tens of minutes); with
``power`` the meters lose mains, send a last gasp (few get through on a mesh whose
neighbours are also dark) and a restore notice after re-joining. Tamper alarms can be
injected. Outcomes are deterministic in ``(seed, meter, boundary, attempt)``.

Parameters come from ``defaults.toml`` (see :mod:`openami.network.config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openami.bus.messages import MeterEvent
from openami.meter.load import hash_normal, hash_uniform
from openami.network.config import DEFAULT_PARAMS, METHOD_CODES, MethodParams

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
BoolArr = npt.NDArray[np.bool_]

MAX_DELAY_S = 1500.0


@dataclass(frozen=True)
class Outage:
    """Meters (by fleet position) unreachable over ``[start_s, end_s)`` Unix seconds.

    ``rejoin``: each meter is reachable again only after its method's re-join delay.
    ``power``: the meters lose mains (last gasp at the start, restore notice on re-join).
    """

    meter_index: I64
    start_s: float
    end_s: float
    reason: str = "outage"
    rejoin: bool = False
    power: bool = False

    def __post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ValueError("an outage cannot end before it starts")


@dataclass(frozen=True)
class Interference:
    """Attempts of these meters over ``[start_s, end_s)`` succeed ``success_factor`` as often."""

    meter_index: I64
    start_s: float
    end_s: float
    success_factor: float = 0.5
    reason: str = "interference"

    def __post_init__(self) -> None:
        if not 0.0 <= self.success_factor <= 1.0:
            raise ValueError("success_factor must be within 0..1")


@dataclass
class DeviceEvents:
    """Alarms meters raised in a period, with the outcome of their first push."""

    index: I64
    kind: U8
    occurred_s: F64
    delivered: BoolArr
    delay_s: F64

    def __len__(self) -> int:
        return len(self.index)


@dataclass
class _Window:
    number: int
    index: I64  # sorted fleet positions
    start_s: float
    end_s: F64  # per meter (after re-join), aligned with index
    factor: float  # 0 for an outage, the success factor for interference
    power: bool

    def hits(self, index: I64, at_s: F64) -> BoolArr:
        if len(self.index) == 0:
            return np.zeros(len(index), dtype=np.bool_)
        pos = np.minimum(np.searchsorted(self.index, index), len(self.index) - 1)
        found = self.index[pos] == index
        return found & (at_s >= self.start_s) & (at_s < self.end_s[pos])


@dataclass
class NetworkModel:
    """Delivery outcomes for the meters of a fleet (arrays aligned with fleet positions).

    ``concentrator_of`` (optional, -1 for none) gives mesh and PLC meters their
    concentrator; meters without one are grouped in blocks of three quarters of the
    method's ``segment_capacity``. Cellular meters are grouped into cells of
    ``segment_capacity``.
    """

    meter_ids: I64
    method_codes: U8
    seed: int
    params: dict[str, MethodParams] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    outages: list[Outage] = field(default_factory=list)
    concentrator_of: I64 | None = None
    interference: list[Interference] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.meter_ids)
        ids = self.meter_ids
        self.method_codes = np.asarray(self.method_codes, dtype=np.uint8)
        self.hops: U8 = np.ones(n, dtype=np.uint8)
        self._p_static = np.zeros(n, dtype=np.float64)
        self._load_loss = np.zeros(n, dtype=np.float64)
        self._median = np.ones(n, dtype=np.float64)
        self._sigma = np.zeros(n, dtype=np.float64)
        self._session = np.zeros(n, dtype=np.float64)
        self._last_gasp = np.zeros(n, dtype=np.float64)
        self._rejoin_lo = np.zeros(n, dtype=np.float64)
        self._rejoin_hi = np.zeros(n, dtype=np.float64)
        noisy_u = hash_uniform(self.seed, 201, ids)
        hop_u = hash_uniform(self.seed, 202, ids)
        for name, code in METHOD_CODES.items():
            p = self.params[name]
            sel = self.method_codes == code
            if not sel.any():
                continue
            edges = np.cumsum(p.hop_distribution)
            hops = 1 + np.minimum(np.searchsorted(edges, hop_u[sel], side="right"), len(edges) - 1)
            self.hops[sel] = hops
            base = np.where(
                noisy_u[sel] < p.noisy_share, p.noisy_attempt_success, p.attempt_success
            )
            self._p_static[sel] = base * (1.0 - p.hop_loss) ** (hops - 1)
            self._load_loss[sel] = p.load_loss
            self._median[sel] = p.median_delay_s
            self._sigma[sel] = p.delay_sigma
            self._session[sel] = p.setup_s + p.round_trips * (
                p.first_hop_s + p.per_hop_s * (hops - 1)
            )
            self._last_gasp[sel] = p.last_gasp_success
            self._rejoin_lo[sel] = p.rejoin_min_s
            self._rejoin_hi[sel] = p.rejoin_max_s
        self._build_segments()
        self._windows: list[_Window] = []
        self._interference: list[_Window] = []
        self._tampers: list[tuple[I64, F64]] = []
        for outage in self.outages:
            self._register_outage(outage)
        for item in self.interference:
            self._register_interference(item)

    # -- topology ---------------------------------------------------------------------------
    def _build_segments(self) -> None:
        n = len(self.meter_ids)
        seg = np.full(n, -1, dtype=np.int64)
        conc = (
            np.full(n, -1, dtype=np.int64)
            if self.concentrator_of is None
            else np.asarray(self.concentrator_of, dtype=np.int64).copy()
        )
        if len(conc) != n:
            raise ValueError("concentrator_of must have one entry per meter")
        cellular = self.method_codes == METHOD_CODES["cellular"]
        conc[cellular] = -1
        next_id = int(conc.max()) + 1 if n and conc.max() >= 0 else 0
        for name in ("mesh", "plc"):
            members = np.flatnonzero((self.method_codes == METHOD_CODES[name]) & (conc < 0))
            block = max(1, int(self.params[name].segment_capacity * 0.75))
            groups = np.arange(len(members), dtype=np.int64) // block
            conc[members] = next_id + groups
            next_id += int(groups.max()) + 1 if len(groups) else 0
        has = conc >= 0
        seg[has] = conc[has]
        members = np.flatnonzero(cellular)
        cell_block = self.params["cellular"].segment_capacity
        cells = np.arange(len(members), dtype=np.int64) // cell_block
        seg[members] = next_id + cells
        n_seg = next_id + (int(cells.max()) + 1 if len(cells) else 0)
        self.concentrator_of = conc
        self.segment_of: I64 = seg
        self.n_segments = n_seg
        self.segment_method: U8 = np.zeros(n_seg, dtype=np.uint8)
        self.segment_method[seg] = self.method_codes
        self.segment_is_cell: BoolArr = np.zeros(n_seg, dtype=np.bool_)
        self.segment_is_cell[seg[cellular]] = True
        capacity = np.zeros(len(METHOD_CODES), dtype=np.float64)
        for name, code in METHOD_CODES.items():
            capacity[code] = self.params[name].segment_capacity
        self.segment_capacity: F64 = capacity[self.segment_method]

    def session_s(self, index: I64) -> F64:
        """Duration of one session (association, request, release) per meter [s]."""
        return self._session[index]

    # -- scenarios --------------------------------------------------------------------------
    def _rejoin_end(self, index: I64, end_s: float, number: int) -> F64:
        u = hash_uniform(self.seed, 650 + number, self.meter_ids[index])
        lo, hi = self._rejoin_lo[index], self._rejoin_hi[index]
        return end_s + lo + (hi - lo) * u

    def _register_outage(self, outage: Outage) -> None:
        index = np.unique(np.asarray(outage.meter_index, dtype=np.int64))
        number = len(self._windows)
        end = (
            self._rejoin_end(index, outage.end_s, number)
            if outage.rejoin
            else np.full(len(index), outage.end_s)
        )
        self._windows.append(_Window(number, index, outage.start_s, end, 0.0, outage.power))

    def _register_interference(self, item: Interference) -> None:
        index = np.unique(np.asarray(item.meter_index, dtype=np.int64))
        end = np.full(len(index), item.end_s)
        self._interference.append(
            _Window(len(self._interference), index, item.start_s, end, item.success_factor, False)
        )

    def add_outage(self, outage: Outage) -> None:
        self.outages.append(outage)
        self._register_outage(outage)

    def add_interference(self, item: Interference) -> None:
        self.interference.append(item)
        self._register_interference(item)

    def add_tamper(self, index: npt.ArrayLike, at_s: float | npt.ArrayLike) -> None:
        """Meters raise a tamper alarm (cover opened, magnet) at ``at_s``."""
        idx = np.asarray(index, dtype=np.int64).ravel()
        at = np.broadcast_to(np.asarray(at_s, dtype=np.float64), idx.shape).copy()
        self._tampers.append((idx, at))

    # -- attempts ---------------------------------------------------------------------------
    def reachable(self, index: I64, at_s: F64 | float) -> BoolArr:
        index = np.asarray(index, dtype=np.int64)
        at = np.broadcast_to(np.asarray(at_s, dtype=np.float64), index.shape)
        ok = np.ones(len(index), dtype=np.bool_)
        for window in self._windows:
            ok &= ~window.hits(index, at)
        return ok

    def success_probability(self, index: I64, at_s: F64 | float) -> F64:
        """Probability that one attempt of each meter (all in one batch) gets through."""
        index = np.asarray(index, dtype=np.int64)
        at = np.broadcast_to(np.asarray(at_s, dtype=np.float64), index.shape)
        seg = self.segment_of[index]
        count = np.bincount(seg, minlength=self.n_segments)
        load = np.minimum(count[seg] / self.segment_capacity[seg], 2.0)
        p = self._p_static[index] * (1.0 - self._load_loss[index] * load)
        for window in self._interference:
            p = np.where(window.hits(index, at), p * window.factor, p)
        return np.where(self.reachable(index, at), p, 0.0)

    def attempt(
        self, index: I64, boundary: I64 | int, attempt_no: int, at_s: F64 | float
    ) -> tuple[BoolArr, F64]:
        """Outcome of one delivery attempt per meter: (delivered, delay in seconds)."""
        index = np.asarray(index, dtype=np.int64)
        ids = self.meter_ids[index]
        b = np.broadcast_to(np.asarray(boundary, dtype=np.int64), ids.shape)
        u = hash_uniform(self.seed, 300 + attempt_no, ids, b)
        ok = u < self.success_probability(index, at_s)
        z = hash_normal(self.seed, 400 + attempt_no, ids, b)
        delay_s = self._session[index] + self._median[index] * np.exp(self._sigma[index] * z)
        return ok, np.minimum(delay_s, MAX_DELAY_S)

    # -- alarms -----------------------------------------------------------------------------
    def device_events(self, after_s: float, until_s: float) -> DeviceEvents:
        """Alarms raised in ``(after_s, until_s]`` and whether their first push got through."""
        parts: list[DeviceEvents] = []
        for w in self._windows:
            if not w.power:
                continue
            if after_s < w.start_s <= until_s and len(w.index):
                u = hash_uniform(self.seed, 700 + w.number, self.meter_ids[w.index])
                parts.append(
                    DeviceEvents(
                        w.index,
                        np.full(len(w.index), MeterEvent.LAST_GASP, dtype=np.uint8),
                        np.full(len(w.index), w.start_s),
                        u < self._last_gasp[w.index],
                        self._session[w.index],
                    )
                )
            back = (w.end_s > after_s) & (w.end_s <= until_s)
            if back.any():
                idx, at = w.index[back], w.end_s[back]
                ok, delay = self.attempt(idx, w.number, 60, at)
                parts.append(
                    DeviceEvents(
                        idx, np.full(len(idx), MeterEvent.RESTORE, np.uint8), at, ok, delay
                    )
                )
        for number, (idx, at) in enumerate(self._tampers):
            sel = (at > after_s) & (at <= until_s)
            if sel.any():
                ok, delay = self.attempt(idx[sel], number, 61, at[sel])
                kind = np.full(int(sel.sum()), MeterEvent.TAMPER, np.uint8)
                parts.append(DeviceEvents(idx[sel], kind, at[sel], ok, delay))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return DeviceEvents(
                empty,
                empty.astype(np.uint8),
                empty.astype(np.float64),
                empty.astype(np.bool_),
                empty.astype(np.float64),
            )
        return DeviceEvents(
            np.concatenate([p.index for p in parts]),
            np.concatenate([p.kind for p in parts]),
            np.concatenate([p.occurred_s for p in parts]),
            np.concatenate([p.delivered for p in parts]),
            np.concatenate([p.delay_s for p in parts]),
        )
