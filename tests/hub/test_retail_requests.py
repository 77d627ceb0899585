"""Issue #16 §1 over HTTP, through the simulated HES and meters: suspend (notice, contract
stays, switch opens) and resume, on-demand reads (registers, or a failure when the meter
cannot be reached), move-out and move-in (contract ended/started, switch operated, reading
returned), contract changes (amperage, contract kW) and the switching reading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from tests.hub.test_requests import DAY1, DAY4, Rig, authorise, make_rig, post

from openami.clock import JST, jst_day_start_s
from openami.hes.switch_guard import SwitchGuard
from openami.hub.switching import REMOTE_KINDS, SwitchingConfig, switching_control
from openami.hub.webhooks import webhook_service
from openami.network.model import Outage
from openami.storage.repositories.clients import ApiClient
from openami.storage.repositories.command_signing import CommandSigner
from openami.storage.repositories.contract_demand import ContractDemandStore
from openami.storage.repositories.hes_guard import HesGuardStore

NOTICE_DAY = date(2026, 11, 7)  # filed 11-01 10:00 with 5 days' notice: 11-07 at the earliest


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The request rig with a signing hub and a guarded HES, as ``openami serve`` wires it."""
    for r in make_rig(tmp_path):
        signer = CommandSigner(bytes(range(1, 33)))
        r.context.command_signer = signer
        database = r.context.clients.database
        r.sim.hes.guard = SwitchGuard(HesGuardStore(database), signer.verifier(), 12)
        r.context.services.pop("switching", None)
        yield r


def owned(rig: Rig, pos: int) -> tuple[str, int, str, str]:
    sp, key = rig.city.supply_point_ids[pos], rig.city.supply_point_keys[pos]
    owner = rig.registry.retailer_on(key, DAY1)
    assert owner is not None
    other = next(r for r in rig.secrets if r != owner)
    return sp, key, owner, other


def get(rig: Rig, retailer: str, request_id: str) -> dict[str, object]:
    resp = rig.http.get(f"/v1/retailer-requests/{request_id}", headers=rig.token(retailer))
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def code(resp: object) -> tuple[int, str]:
    import httpx

    assert isinstance(resp, httpx.Response)
    return resp.status_code, str(resp.json()["code"])


def statuses(body: dict[str, object]) -> list[str]:
    history = body["history"]
    assert isinstance(history, list)
    return [str(h["status"]) for h in history]


def registers(body: dict[str, object]) -> dict[str, object]:
    result = body["result"]
    assert isinstance(result, dict), body
    assert int(result["import_register_wh"]) > 0 and int(result["export_register_wh"]) >= 0
    read_at = datetime.fromisoformat(str(result["read_at"]))
    meter_time = datetime.fromisoformat(str(result["meter_time"]))
    assert read_at.tzinfo is not None and abs((meter_time - read_at).total_seconds()) < 3600
    return result


def test_suspend_gives_notice_keeps_the_contract_and_resume_closes_the_switch(rig: Rig) -> None:
    sp, key, owner, other = owned(rig, 2)
    pos = 2
    early = post(rig, owner, kind="suspend", supply_point_id=sp, effective_date="2026-11-06")
    assert code(early) == (422, "E_NOTICE_TOO_SHORT")
    assert "2026-11-07" in early.json()["message"]
    foreign = post(rig, other, kind="suspend", supply_point_id=sp, effective_date="2026-11-07")
    assert code(foreign) == (403, "E_NOT_SUPPLIER")
    unknown = post(
        rig,
        owner,
        kind="suspend",
        supply_point_id="0399999999999999999990",
        effective_date="2026-11-07",
    )
    assert code(unknown) == (403, "E_NOT_SUPPLIER")  # answered as someone else's
    never = post(rig, owner, kind="resume", supply_point_id=sp, effective_date="2026-11-01")
    assert code(never) == (409, "E_NOT_SUSPENDED")
    past = post(rig, owner, kind="resume", supply_point_id=sp, effective_date="2026-10-31")
    assert code(past) == (422, "E_DATE_IN_PAST")
    far = post(rig, owner, kind="on_demand_read", supply_point_id=sp, effective_date="2028-01-01")
    assert code(far) == (422, "E_DATE_TOO_FAR")

    ok = post(rig, owner, kind="suspend", supply_point_id=sp, effective_date="2026-11-07")
    assert ok.status_code == 201 and ok.json()["status"] == "accepted", ok.text
    rid = ok.json()["request_id"]
    early_resume = post(rig, owner, kind="resume", supply_point_id=sp, effective_date="2026-11-08")
    assert code(early_resume) == (409, "E_CONFLICTING_REQUEST")  # cancel the suspend instead
    # the contract stays (unlike a disconnect)
    assert rig.registry.retailer_on(key, NOTICE_DAY + timedelta(days=30)) == owner

    rig.sim.run_until(jst_day_start_s(NOTICE_DAY) + 900)
    done = get(rig, owner, rid)
    assert done["status"] == "completed", done
    assert statuses(done) == ["received", "accepted", "scheduled", "completed"]
    registers(done)
    assert not rig.city.fleet.switch_connected[pos]
    assert rig.registry.retailer_on(key, NOTICE_DAY) == owner
    # a remote switching operation: signed, admitted by the HES guard, counted for the caps
    sent = switching_control(rig.context).store.sent_since(0.0, REMOTE_KINDS)
    assert len(sent) == 1
    again = post(rig, owner, kind="suspend", supply_point_id=sp, effective_date="2026-11-20")
    assert code(again) == (409, "E_ALREADY_SUSPENDED")

    # 停止解除 the same day: the next worker round closes the switch
    res = post(rig, owner, kind="resume", supply_point_id=sp, effective_date="2026-11-07")
    assert res.status_code == 201, res.text
    rig.sim.run_until(jst_day_start_s(NOTICE_DAY) + 1800)
    back = get(rig, owner, res.json()["request_id"])
    assert back["status"] == "completed", back
    assert rig.city.fleet.switch_connected[pos]
    twice = post(rig, owner, kind="resume", supply_point_id=sp, effective_date="2026-11-07")
    assert code(twice) == (409, "E_NOT_SUSPENDED")


def test_suspend_notice_is_configurable_and_waits_while_switching_is_halted(rig: Rig) -> None:
    sp, _, owner, _ = owned(rig, 4)
    rig.context.services.pop("switching", None)
    control = switching_control(rig.context, SwitchingConfig(suspend_notice_s=86400.0))
    day3 = date(2026, 11, 3)  # filed 11-01 10:00 with one day's notice
    early = post(rig, owner, kind="suspend", supply_point_id=sp, effective_date="2026-11-02")
    assert code(early) == (422, "E_NOTICE_TOO_SHORT")
    ok = post(rig, owner, kind="suspend", supply_point_id=sp, effective_date=day3.isoformat())
    assert ok.status_code == 201, ok.text
    rid = ok.json()["request_id"]
    control.halt("ops", "operator", "drill")
    rig.sim.run_until(jst_day_start_s(day3) + 900)
    assert get(rig, owner, rid)["status"] == "accepted"  # held back by the stop
    assert rig.city.fleet.switch_connected[4]
    control.resume("boss", "approver")
    rig.sim.run_until(jst_day_start_s(day3) + 1800)
    assert get(rig, owner, rid)["status"] == "completed"
    assert not rig.city.fleet.switch_connected[4]


def test_on_demand_read_returns_registers_or_fails_when_unreachable(rig: Rig) -> None:
    sp, key, owner, other = owned(rig, 5)
    foreign = post(
        rig, other, kind="on_demand_read", supply_point_id=sp, effective_date="2026-11-01"
    )
    assert code(foreign) == (403, "E_NOT_SUPPLIER")
    ok = post(rig, owner, kind="on_demand_read", supply_point_id=sp, effective_date="2026-11-01")
    assert ok.status_code == 201 and ok.json()["status"] == "accepted", ok.text
    now = rig.context.clock.timestamp()
    rig.sim.run_until(now + 600)  # within minutes
    done = get(rig, owner, ok.json()["request_id"])
    assert done["status"] == "completed", done
    result = registers(done)
    fleet = rig.city.fleet
    assert int(str(result["import_register_wh"])) <= int(fleet.import_register_wh[5]) + 10_000
    assert int(str(result["import_register_wh"])) >= 0
    read_at = datetime.fromisoformat(str(result["read_at"])).timestamp()
    assert now <= read_at <= now + 600
    offset = rig.sim.hes.clocks.offset_s(np.array([5]), read_at)[0]
    meter_time = datetime.fromisoformat(str(result["meter_time"])).timestamp()
    assert meter_time - read_at == pytest.approx(offset, abs=1e-3)

    # a meter the network cannot reach: failed with a reason, within the short timeout
    sp6, _, owner6, _ = owned(rig, 6)
    start = rig.context.clock.timestamp()
    rig.sim.hes.network.add_outage(Outage(np.array([6]), start, start + 86400.0))
    lost = post(
        rig, owner6, kind="on_demand_read", supply_point_id=sp6, effective_date="2026-11-01"
    )
    assert lost.status_code == 201
    rig.sim.run_until(start + 1800)
    failed = get(rig, owner6, lost.json()["request_id"])
    assert failed["status"] == "failed" and failed["error_code"] == "E_METER_UNREACHABLE"
    assert failed["result"] is None
    assert rig.registry.retailer_on(key, DAY1) == owner  # a read changes nothing


def test_move_out_then_move_in(rig: Rig) -> None:
    sp, key, owner, other = owned(rig, 7)
    pos = 7
    day2 = DAY1 + timedelta(days=1)
    hooks = webhook_service(rig.context)
    hooks.subscribe(ApiClient(f"c-{owner}", "retailer", owner), "http://127.0.0.1:9/h", "s" * 20)
    # without the customer: notice as for a disconnect
    quick = post(rig, owner, kind="move_out", supply_point_id=sp, effective_date=day2.isoformat())
    assert code(quick) == (422, "E_NOTICE_TOO_SHORT")
    foreign = post(rig, other, kind="move_out", supply_point_id=sp, effective_date="2026-11-05")
    assert code(foreign) == (403, "E_NOT_SUPPLIER")
    # the customer's own move-out tomorrow, with their authorisation
    auth = authorise(rig, pos, owner, day2)
    out = post(
        rig,
        owner,
        kind="move_out",
        supply_point_id=sp,
        effective_date=day2.isoformat(),
        authorisation_id=auth,
    )
    assert out.status_code == 201, out.text
    assert rig.registry.retailer_on(key, day2) is None
    assert rig.registry.retailer_on(key, DAY1) == owner
    used = switching_control(rig.context).store.authorisation(auth)
    assert used is not None and used.used_by == out.json()["request_id"]  # used up
    rig.sim.run_until(jst_day_start_s(day2) + 900)
    done = get(rig, owner, out.json()["request_id"])
    assert done["status"] == "completed", done
    registers(done)
    assert not rig.city.fleet.switch_connected[pos]
    bodies = [json.loads(d.body) for d in hooks.store.due(1e12, 100)]
    concluded = [b for b in bodies if b.get("event") == "retailer_request.concluded"]
    assert [b["request_id"] for b in concluded] == [out.json()["request_id"]]
    assert concluded[0]["status"] == "completed" and sp not in json.dumps(concluded[0])
    # the point is unsupplied now: no suspend, read or contract change by the former supplier
    for kind in ("suspend", "on_demand_read"):
        gone = post(rig, owner, kind=kind, supply_point_id=sp, effective_date="2026-11-10")
        assert code(gone) == (403, "E_NOT_SUPPLIER"), kind

    # move-in on a supplied point is refused; on the vacated one it needs the new customer
    sp8, _, owner8, _ = owned(rig, 8)
    auth8 = authorise(rig, 8, owner8, DAY4)
    own = post(
        rig,
        owner8,
        kind="move_in",
        supply_point_id=sp8,
        effective_date="2026-11-04",
        authorisation_id=auth8,
    )
    assert code(own) == (409, "E_ALREADY_SUPPLIER")
    taken = post(
        rig,
        other if other != owner8 else owner,
        kind="move_in",
        supply_point_id=sp8,
        effective_date="2026-11-04",
        authorisation_id="sa-none",
    )
    assert code(taken) == (409, "E_SUPPLIED_BY_OTHER")
    bare = post(rig, other, kind="move_in", supply_point_id=sp, effective_date="2026-11-04")
    assert code(bare) == (403, "E_NO_AUTHORISATION")
    auth_in = authorise(rig, pos, other, DAY4)
    move_in = post(
        rig,
        other,
        kind="move_in",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth_in,
    )
    assert move_in.status_code == 201, move_in.text
    assert rig.registry.retailer_on(key, DAY4) == other
    rig.sim.run_until(jst_day_start_s(DAY4) + 900)
    moved_in = get(rig, other, move_in.json()["request_id"])
    assert moved_in["status"] == "completed", moved_in
    first = registers(moved_in)
    assert int(str(first["import_register_wh"])) >= int(str(registers(done)["import_register_wh"]))
    assert rig.city.fleet.switch_connected[pos]


def test_contract_change_amperage_and_contract_kw(rig: Rig) -> None:
    sp, key, owner, other = owned(rig, 9)
    pos = 9
    bad = [
        ({}, 422, "E_CHANGE_REQUIRED"),
        ({"contract_kw": 100, "supply_plan": "flat"}, 422, "E_ONE_CHANGE_PER_REQUEST"),
        ({"amperage_a": 40, "contract_kw": 100}, 422, "E_ONE_CHANGE_PER_REQUEST"),
        ({"contract_kw": 49}, 422, "E_INVALID_CONTRACT_KW"),
        ({"contract_kw": 2000}, 422, "E_INVALID_CONTRACT_KW"),
        ({"contract_kw": 120.5}, 422, "E_INVALID_CONTRACT_KW"),
        ({"amperage_a": 35}, 422, "E_UNSUPPORTED_AMPERAGE"),
    ]
    for extra, status, want in bad:
        resp = post(
            rig,
            owner,
            kind="contract_change",
            supply_point_id=sp,
            effective_date="2026-11-03",
            **extra,
        )
        assert code(resp) == (status, want), extra
    now_a = int(rig.city.fleet.contract_amperage_a[pos])
    same = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        amperage_a=now_a,
    )
    assert code(same) == (409, "E_AMPERAGE_UNCHANGED")
    foreign = post(
        rig,
        other,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        contract_kw=500,
    )
    assert code(foreign) == (403, "E_NOT_SUPPLIER")

    low = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        contract_kw=500,
    )
    assert code(low) == (422, "E_NOT_HIGH_VOLTAGE")  # the registry says low voltage
    rig.context.registry.kinds.set_point_classes([(key, "high", "commercial")])
    kw = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        contract_kw=500,
    )
    assert kw.status_code == 201 and kw.json()["contract_kw"] == 500, kw.text
    rig.sim.run_until(jst_day_start_s(date(2026, 11, 2)) + 900)
    done = get(rig, owner, kw.json()["request_id"])
    assert done["status"] == "completed" and done["result"] == {
        "contract_kw": 500.0,
        "from": "2026-11-02",
    }
    demand = ContractDemandStore(rig.context.clients.database)
    assert demand.on(key, date(2026, 11, 2)) == 500.0
    assert demand.on(key, DAY1) is None

    target = next(a for a in (30, 40, 50, 60) if a != now_a)
    amps = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        amperage_a=target,
    )
    assert amps.status_code == 201, amps.text
    rig.sim.run_until(jst_day_start_s(date(2026, 11, 2)) + 1800)
    assert get(rig, owner, amps.json()["request_id"])["status"] == "completed"
    assert int(rig.city.fleet.contract_amperage_a[pos]) == target

    # a supply plan: its time-of-use bands pushed to the meter and read back
    unknown = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        supply_plan="cheap_nights",
    )
    assert code(unknown) == (422, "E_UNKNOWN_SUPPLY_PLAN")
    assert rig.city.fleet.supply_plan_code[pos] == 1
    plan = post(
        rig,
        owner,
        kind="contract_change",
        supply_point_id=sp,
        effective_date="2026-11-02",
        supply_plan="weekday_peak",
    )
    assert plan.status_code == 201 and plan.json()["supply_plan"] == "weekday_peak", plan.text
    rig.sim.run_until(jst_day_start_s(date(2026, 11, 2)) + 2700)
    pushed = get(rig, owner, plan.json()["request_id"])
    assert pushed["status"] == "completed" and pushed["result"] == {"supply_plan": "weekday_peak"}
    assert rig.city.fleet.supply_plan_code[pos] == 3


def test_completed_switch_start_returns_the_switching_reading(rig: Rig) -> None:
    sp, key, _, other = owned(rig, 10)
    auth = authorise(rig, 10, other, DAY4)
    sw = post(
        rig,
        other,
        kind="switch_start",
        supply_point_id=sp,
        effective_date="2026-11-04",
        authorisation_id=auth,
    )
    assert sw.status_code == 201, sw.text
    rig.sim.run_until(jst_day_start_s(DAY4) + 900)
    done = get(rig, other, sw.json()["request_id"])
    assert done["status"] == "completed", done
    result = registers(done)
    at = datetime.fromisoformat(str(result["read_at"])).astimezone(JST)
    assert at.date() == DAY4
    assert rig.registry.retailer_on(key, DAY4) == other


def test_a_reading_missed_while_the_hub_was_down_is_recovered(tmp_path: Path) -> None:
    """An on-demand read concluded while nobody listened on hes.commands: on the hub's next
    start the registers come from the port's outcomes (the HES journal)."""
    import dataclasses

    from openami.clock import ManualClock
    from openami.hes.command_port import HesCommandPort
    from openami.hub.context import HubContext
    from openami.hub.requests import RequestService, request_service
    from openami.network import MethodParams, NetworkModel
    from openami.registry import Registry
    from openami.sim import CityConfig, Simulation, build_city
    from openami.storage.duckdb_interval import DuckIntervalStore
    from openami.storage.repositories import open_database
    from openami.storage.repositories.clients import ClientStore

    perfect = MethodParams(attempt_success=1.0, median_delay_s=30.0, delay_sigma=0.3)
    database = open_database(tmp_path / "registry.sqlite")
    registry = Registry(database)
    city = build_city(CityConfig(meters=6, seed=5, start_day=DAY1), registry)
    city.network = NetworkModel(
        city.fleet.meter_ids,
        city.method_codes,
        seed=5,
        params=dict.fromkeys(("mesh", "cellular", "plc"), perfect),
    )
    clock = ManualClock(datetime(2026, 11, 1, 9, tzinfo=JST))
    sim = Simulation.create(city, DuckIntervalStore(tmp_path / "interval.duckdb"), clock)
    sim.run_until(clock.timestamp() + 600)
    down = HubContext(
        registry,
        sim.mdms,
        ClientStore(database),
        clock,
        "operator",
        "operator-test-pw",
        command_port=HesCommandPort(sim.hes),
    )  # no bus: outcomes published now reach nobody
    service = RequestService(down)
    owner = registry.retailer_on(city.supply_point_keys[2], DAY1)
    assert owner is not None
    row = service.submit(
        ApiClient(f"c-{owner}", "retailer", owner),
        "on_demand_read",
        city.supply_point_ids[2],
        DAY1,
    )
    assert service.tick(clock.timestamp()) == 1
    sim.run_until(clock.timestamp() + 600)
    assert service.store.request(row.request_id).status == "scheduled"  # type: ignore[union-attr]
    restarted = request_service(dataclasses.replace(down, bus=sim.bus, services={}))
    done = restarted.store.request(row.request_id)
    assert done is not None and done.status == "completed" and done.result is not None
    result = json.loads(done.result)
    assert result["import_register_wh"] > 0 and result["export_register_wh"] >= 0
    assert datetime.fromisoformat(result["read_at"]).astimezone(JST).date() == DAY1
