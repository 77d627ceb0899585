"""The statistical network model: parameters, loss with hops and load, outages, alarms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openami.bus.messages import MeterEvent
from openami.network import (
    DEFAULT_PARAMS,
    METHOD_CODES,
    MeterClocks,
    MethodParams,
    NetworkModel,
    Outage,
    load_params,
)
from openami.network.scenarios import (
    add_interference,
    area_blackout,
    concentrator_failure,
    concentrator_members,
)

T0 = 1_800_000_000.0


def model(n: int, method: str, **kw: object) -> NetworkModel:
    ids = np.arange(1, n + 1, dtype=np.int64)
    codes = np.full(n, METHOD_CODES[method], dtype=np.uint8)
    return NetworkModel(ids, codes, seed=5, **kw)  # type: ignore[arg-type]


def test_defaults_file_loads_and_overrides_are_checked(tmp_path: Path) -> None:
    params = load_params()
    assert params == DEFAULT_PARAMS
    assert params["mesh"].first_hop_s == pytest.approx(0.373)
    assert params["mesh"].segment_capacity == 500
    changed = load_params(overrides={"mesh": {"hop_loss": 0.05, "hop_distribution": [0.5, 0.5]}})
    assert changed["mesh"].hop_loss == 0.05 and changed["mesh"].hop_distribution == (0.5, 0.5)
    with pytest.raises(ValueError, match="hop_los"):
        load_params(overrides={"mesh": {"hop_los": 0.05}})
    with pytest.raises(ValueError, match="satellite"):
        load_params(overrides={"satellite": {}})
    with pytest.raises(ValueError, match="summing to 1"):
        load_params(overrides={"plc": {"hop_distribution": [0.5]}})
    own = tmp_path / "net.toml"
    own.write_text("[mesh]\nattempt_success = 0.9\n")
    mine = load_params(own)
    assert mine["mesh"].attempt_success == 0.9 and mine["cellular"] == params["cellular"]
    own.write_text("[mesh]\nattempt_success = 1.9\n")
    with pytest.raises(ValueError, match="attempt_success"):
        load_params(own)


def test_mesh_first_attempts_succeed_90_to_98_percent_and_loss_grows_with_hops_and_load() -> None:
    net = model(20_000, "mesh")
    index = np.arange(20_000, dtype=np.int64)
    ok, delay = net.attempt(index, 1000, 0, T0)
    assert 0.90 <= ok.mean() <= 0.98
    assert (delay > 0).all() and np.median(delay) > 30
    hops = net.hops
    assert set(np.unique(hops)) <= set(range(1, 9)) and np.bincount(hops).argmax() in (2, 3, 4)
    p_batch = net.success_probability(index, T0)
    assert p_batch[hops == 1].mean() > p_batch[hops >= 5].mean() + 0.03
    # the same meters alone (a retry batch) see less load than in the full :00 batch
    few = index[::50]
    assert (net.success_probability(few, T0) > p_batch[::50]).all()
    # sessions get longer with every hop
    s = net.session_s(index)
    assert s[hops == 1].max() < s[hops == 3].min()
    # concentrators hold 375 meters each here (no concentrator_of given)
    sizes = np.bincount(net.segment_of)
    assert sizes.max() <= 500 and len(sizes) == -(-20_000 // 375)


def test_plc_has_a_noisy_minority_and_cellular_is_grouped_in_cells() -> None:
    plc = model(20_000, "plc")
    p = plc.success_probability(np.arange(20_000, dtype=np.int64)[:400], T0)
    p_all = np.concatenate(
        [
            plc.success_probability(np.arange(i, i + 400, dtype=np.int64), T0)
            for i in range(0, 20_000, 400)
        ]
    )
    assert len(p) == 400
    noisy = (p_all < 0.6).mean()
    assert 0.02 < noisy < 0.06
    cell = model(5_000, "cellular")
    assert cell.segment_is_cell.all() and np.bincount(cell.segment_of).max() == 2000


def test_concentrator_failure_with_slow_rejoin() -> None:
    conc = np.repeat(np.arange(4), 100)
    net = model(400, "mesh", concentrator_of=conc)
    outage = concentrator_failure(net, 2, T0, T0 + 3600)
    members = concentrator_members(net, 2)
    assert (members == np.arange(200, 300)).all() and outage.rejoin
    assert not net.reachable(members, T0 + 10).any()
    assert net.reachable(np.arange(100), T0 + 10).all()
    # nobody is back at the end itself; everyone within the mesh re-join window (5–60 min)
    p = DEFAULT_PARAMS["mesh"]
    assert not net.reachable(members, T0 + 3600 + p.rejoin_min_s - 1).any()
    assert net.reachable(members, T0 + 3600 + p.rejoin_max_s).all()
    back = net.reachable(members, T0 + 3600 + (p.rejoin_min_s + p.rejoin_max_s) / 2)
    assert 0.2 < back.mean() < 0.8
    ok, _ = net.attempt(members, 5, 0, np.full(100, T0 + 100))
    assert not ok.any()


def test_blackout_raises_last_gasps_and_restores_and_tampers_are_pushed() -> None:
    net = model(1000, "mesh")
    area = np.arange(0, 400, dtype=np.int64)
    area_blackout(net, area, T0, T0 + 1800)
    net.add_tamper([900], T0 + 60)
    first = net.device_events(T0 - 1, T0 + 300)
    gasps = first.kind == MeterEvent.LAST_GASP
    assert gasps.sum() == 400 and set(first.index[gasps]) == set(area.tolist())
    # about 30 % of last gasps get through a mesh whose neighbours are dark too
    assert 0.2 < first.delivered[gasps].mean() < 0.4
    assert (first.kind == MeterEvent.TAMPER).sum() == 1 and first.delivered[
        first.kind == MeterEvent.TAMPER
    ]
    later = net.device_events(T0 + 300, T0 + 1800 + 3600)
    assert (later.kind == MeterEvent.RESTORE).sum() == 400
    assert (later.occurred_s >= T0 + 1800 + 300).all()
    assert later.delivered.mean() > 0.85


def test_interference_lowers_success_only_in_its_window() -> None:
    net = model(2000, "plc")
    index = np.arange(2000, dtype=np.int64)
    before = net.success_probability(index, T0)
    add_interference(net, index[:1000], T0 + 100, T0 + 200, success_factor=0.2)
    during = net.success_probability(index, T0 + 150)
    assert np.allclose(during[:1000], before[:1000] * 0.2)
    assert np.allclose(during[1000:], before[1000:])
    assert np.allclose(net.success_probability(index, T0 + 250), before)


def test_perfect_method_is_perfect_and_plain_outages_end_sharply() -> None:
    perfect = MethodParams(attempt_success=1.0, median_delay_s=60.0, delay_sigma=0.5)
    net = model(300, "mesh", params={"mesh": perfect, "cellular": perfect, "plc": perfect})
    index = np.arange(300, dtype=np.int64)
    assert net.attempt(index, 7, 0, T0)[0].all()
    net.add_outage(Outage(index[:10], T0, T0 + 60))
    assert not net.reachable(index[:10], T0 + 59).any()
    assert net.reachable(index[:10], T0 + 60).all()
    with pytest.raises(ValueError):
        MethodParams(attempt_success=1.5, median_delay_s=1.0, delay_sigma=0.1)


def test_meter_clocks_drift_and_adjust() -> None:
    clocks = MeterClocks(np.arange(1, 10_001), seed=3, start_s=T0)
    off0 = clocks.offset_s(np.arange(10_000), T0)
    assert 0.005 < (np.abs(off0) > 60).mean() < 0.02  # the badly set minority
    later = clocks.offset_s(np.arange(10_000), T0 + 30 * 86400)
    assert np.abs(later - off0).max() > 10  # 15 ppm over a month is tens of seconds
    clocks.adjust([0, 1], T0 + 100)
    assert np.abs(clocks.offset_s([0, 1], T0 + 100)).max() == 0.0
