"""Estimation of missing and invalid half-hour values, vectorized over all gaps at once.

A *gap* is a run of consecutive slots of one supply point and one meter whose current value
is missing, invalid or absent. When the meter's register reads at both ends of the gap are
known, the gap's total is their difference and every method distributes exactly that total
(the register identity holds after estimation). Methods, in the order they are tried:

- ``E1`` linear interpolation of the registers, for gaps up to ``max_interpolation_slots``;
- ``E2`` like-day profile: the mean of the same slots 1…``like_day_weeks`` weeks earlier,
  scaled to the register difference (unscaled when only one end is known);
- ``E3`` class load profile (``class_profile``), scaled to the register difference, or
  ``class_daily_wh_per_a`` × contract amperes a day when only one end is known;
- ``E4`` flat distribution of a known total given from outside (an operator's reading);
- ``E0`` slots inside an outage or disconnection get no share of the total (valid zeros).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openami.clock import slot_of_day
from openami.mdms.vee_config import VeeConfig

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

METHOD_NAMES = ("E0", "E1", "E2", "E3", "E4")
M_E0, M_E1, M_E2, M_E3, M_E4 = range(5)


def gap_ids(key: I64, meter: I64, slot: I64, read_at_start: BoolArr | None = None) -> I64:
    """Gap number per candidate (candidates sorted by key, meter, slot). A register read at
    a slot's start boundary closes the gap before it, so every gap is bounded by reads."""
    n = len(slot)
    new = np.ones(n, dtype=np.bool_)
    if n > 1:
        new[1:] = (key[1:] != key[:-1]) | (meter[1:] != meter[:-1]) | (slot[1:] != slot[:-1] + 1)
    if read_at_start is not None:
        new |= read_at_start
    return np.cumsum(new) - 1


def distribute(total: F64, weights: F64, gap: I64) -> I64:
    """Integer shares of each gap's ``total`` in proportion to ``weights``.

    Cumulative rounding: the shares of a gap add up to exactly ``round(total)``; a gap whose
    weights are all zero is spread flat.
    """
    n = len(gap)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    n_gaps = int(gap[-1]) + 1
    start = np.searchsorted(gap, np.arange(n_gaps))
    length = np.diff(np.append(start, n))
    pos = np.arange(n) - start[gap]
    w = np.where(weights > 0, weights, 0.0)
    cw = np.cumsum(w)
    base = np.where(start > 0, cw[np.maximum(start - 1, 0)], 0.0)
    cw_in = cw - base[gap]
    wsum = cw_in[start + length - 1]
    frac = np.where(wsum[gap] > 0, cw_in / np.where(wsum[gap] > 0, wsum[gap], 1.0), 0.0)
    flat = (pos + 1) / length[gap]
    frac = np.where(wsum[gap] > 0, frac, flat)
    frac[start + length - 1] = 1.0
    reg = np.floor(np.round(total, 0)[gap] * frac + 0.5).astype(np.int64)
    prev = np.zeros(n, dtype=np.int64)
    prev[1:] = reg[:-1]
    prev[start] = 0
    return reg - prev


@dataclass
class GapInputs:
    """Per candidate slot (sorted by key, meter, slot)."""

    key: I64
    meter: I64
    slot: I64
    outage: BoolArr
    like_import_wh: F64  # mean of the like-day values, NaN when there is no history
    like_export_wh: F64
    amperage_a: F64
    # per gap (indexed by gap id): register differences, NaN when an end read is missing
    total_import_wh: F64
    total_export_wh: F64


@dataclass
class Estimates:
    import_wh: I64
    export_wh: I64
    export_known: BoolArr
    method: npt.NDArray[np.uint8]  # index into METHOD_NAMES


def estimate(inp: GapInputs, cfg: VeeConfig, gap: I64) -> Estimates:
    """Choose a method per gap (ids from :func:`gap_ids`) and produce integer values for
    every candidate slot."""
    n = len(gap)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return Estimates(z, z, np.zeros(0, np.bool_), np.zeros(0, np.uint8))
    n_gaps = int(gap[-1]) + 1
    length = np.bincount(gap, minlength=n_gaps)
    live = ~inp.outage
    like_ok = np.isfinite(inp.like_import_wh)
    has_like = np.bincount(gap, weights=like_ok.astype(np.float64), minlength=n_gaps) == length
    like_sum = np.bincount(gap, weights=np.where(like_ok & live, inp.like_import_wh, 0.0))
    known = np.isfinite(inp.total_import_wh)
    short = length <= cfg.max_interpolation_slots
    use_e2 = has_like & (like_sum > 0) & ~(known & short)
    gap_method = np.where(known & short, M_E1, np.where(use_e2, M_E2, M_E3))
    method = gap_method[gap]
    profile = cfg.class_profile[slot_of_day(inp.slot)]
    weights = np.where(
        method == M_E1, 1.0, np.where(method == M_E2, np.nan_to_num(inp.like_import_wh), profile)
    )
    weights = np.where(live, weights, 0.0)
    scaled = distribute(np.nan_to_num(inp.total_import_wh), weights, gap)
    # only one end known: like-day mean as it is, or the class profile × expected daily energy
    daily = cfg.class_daily_wh_per_a * inp.amperage_a
    unscaled = np.where(method == M_E2, np.nan_to_num(inp.like_import_wh), profile * daily)
    imp = np.where(known[gap], scaled, np.round(np.where(live, unscaled, 0.0)).astype(np.int64))
    # export: like-day export profile when there is one, otherwise flat
    exp_known = np.isfinite(inp.total_export_wh)
    exp_like = np.isfinite(inp.like_export_wh)
    w_exp = np.where(exp_like & live, inp.like_export_wh, np.where(live, 1e-9, 0.0))
    exp_scaled = distribute(np.nan_to_num(inp.total_export_wh), w_exp, gap)
    exp_unscaled = np.round(np.where(exp_like & live, inp.like_export_wh, 0.0)).astype(np.int64)
    exp = np.where(exp_known[gap], exp_scaled, exp_unscaled)
    export_known = exp_known[gap] | exp_like
    method = np.where(~live & (imp == 0), M_E0, method)
    return Estimates(imp, exp, export_known, method.astype(np.uint8))
