"""MeterResponder: the ECHONET Lite meter node without a transport."""

from __future__ import annotations

import random
from datetime import timedelta

from momonga.momonga_echonet_data import EchonetDataParser as Momonga

from openami.broute.responder import MeterResponder
from openami.clock import JST, ManualClock, slot_index, slot_start
from openami.meter import MeterView
from openami.protocols.echonet import Esv, Frame, Property, decode_frame
from openami.protocols.echonet import smart_meter as sm
from openami.protocols.echonet.objects import CONTROLLER_EOJ, NODE_PROFILE_EOJ
from openami.protocols.echonet.propmap import decode_property_map

METER = sm.SMART_METER_EOJ


def ask(
    responder: MeterResponder,
    esv: int,
    props: list[Property],
    *,
    deoj: int = METER,
    tid: int = 0x1234,
    get_props: tuple[Property, ...] = (),
) -> list[Frame]:
    request = Frame(tid, CONTROLLER_EOJ, deoj, esv, tuple(props), get_props)
    return [decode_frame(raw) for raw in responder.respond(request.encode())]


def get(responder: MeterResponder, *epcs: int, deoj: int = METER) -> Frame:
    (reply,) = ask(responder, Esv.GET, [Property(e) for e in epcs], deoj=deoj)
    return reply


def test_get_live_values_match_meter_view(pv_responder: MeterResponder, pv_view: MeterView) -> None:
    reply = get(pv_responder, 0xE7, 0xE8, 0xE0, 0xE3, 0xE1, 0xD3, 0xD7)
    assert reply.esv == Esv.GET_RES
    assert reply.tid == 0x1234
    assert (reply.seoj, reply.deoj) == (METER, CONTROLLER_EOJ)
    assert [p.epc for p in reply.properties] == [0xE7, 0xE8, 0xE0, 0xE3, 0xE1, 0xD3, 0xD7]
    assert sm.decode_power_w(reply.edt(0xE7) or b"") == round(pv_view.power_w())
    r_a, t_a = sm.decode_currents(reply.edt(0xE8) or b"")
    want_r, want_t = pv_view.currents_a()
    assert r_a == round(want_r * 10) / 10 and t_a == round(want_t * 10) / 10
    unit = sm.ENERGY_UNIT_KWH[(reply.edt(0xE1) or b"\xff")[0]]
    coefficient = int.from_bytes(reply.edt(0xD3) or b"", "big")
    digits = (reply.edt(0xD7) or b"\x00")[0]
    e0 = sm.decode_u32_energy(reply.edt(0xE0) or b"")
    e3 = sm.decode_u32_energy(reply.edt(0xE3) or b"")
    assert e0 is not None and e3 is not None
    kwh_per_count = unit * coefficient
    assert e0 == int(pv_view.import_register_wh() / 1000 / kwh_per_count) % 10**digits
    assert e3 == int(pv_view.export_register_wh() / 1000 / kwh_per_count) % 10**digits


def test_instance_list_inf_is_the_b_route_announcement(pv_responder: MeterResponder) -> None:
    assert pv_responder.instance_list_inf() == bytes.fromhex("108100000ef0010ef0017301d50401028801")


def test_fixed_time_inf_carries_boundary_registers(
    pv_responder: MeterResponder, pv_view: MeterView, clock: ManualClock
) -> None:
    raw = pv_responder.fixed_time_inf(clock.now())
    assert raw is not None
    frame = decode_frame(raw)
    assert frame.esv == Esv.INF
    assert (frame.seoj, frame.deoj) == (METER, CONTROLLER_EOJ)
    assert [p.epc for p in frame.properties] == [0xEA, 0xEB]
    boundary = slot_index(clock.now())
    regs = pv_view.boundary_registers(boundary)
    assert regs is not None
    ea = sm.FixedTimeValue.decode(frame.properties[0].edt)
    eb = sm.FixedTimeValue.decode(frame.properties[1].edt)
    assert ea.at == slot_start(boundary).replace(tzinfo=None)
    assert ea.at.minute in (0, 30) and ea.at.second == 0
    assert ea.value == pv_responder.scale.raw_from_wh(regs[0])
    assert eb.value == pv_responder.scale.raw_from_wh(regs[1])


def test_plain_meter_has_no_reverse_direction(plain_responder: MeterResponder) -> None:
    raw = plain_responder.fixed_time_inf()
    assert raw is not None
    assert [p.epc for p in decode_frame(raw).properties] == [0xEA]
    reply = get(plain_responder, 0xE0, 0xE3)
    assert reply.esv == Esv.GET_SNA
    assert reply.properties[0].pdc == 4 and reply.properties[1] == Property(0xE3)


def test_e2_follows_e5(
    pv_responder: MeterResponder, pv_view: MeterView, clock: ManualClock
) -> None:
    (res,) = ask(pv_responder, Esv.SETC, [Property(0xE5, b"\x02")])
    assert res.esv == Esv.SET_RES and res.properties == (Property(0xE5),)
    reply = get(pv_responder, 0xE5, 0xE2, 0xE4)
    assert reply.esv == Esv.GET_RES
    assert reply.edt(0xE5) == b"\x02"
    normal = sm.DayHistory.decode(reply.edt(0xE2) or b"")
    reverse = sm.DayHistory.decode(reply.edt(0xE4) or b"")
    day = clock.now().astimezone(JST).date() - timedelta(days=2)
    log = pv_view.day_log(day)
    assert normal.day == 2 and reverse.day == 2
    scale = pv_responder.scale
    assert list(normal.values) == [None if p is None else scale.raw_from_wh(p[0]) for p in log]
    assert list(reverse.values) == [None if p is None else scale.raw_from_wh(p[1]) for p in log]
    assert None not in normal.values  # two days ago is fully logged


def test_today_has_no_data_for_slots_not_reached(pv_responder: MeterResponder) -> None:
    today = sm.DayHistory.decode(get(pv_responder, 0xE2).edt(0xE2) or b"")
    # the clock stands at 03:07 JST: 00:00 … 03:00 are logged (7 values), the rest are not
    assert all(v is not None for v in today.values[:7])
    assert all(v is None for v in today.values[7:])


def test_days_beyond_retention_are_no_data(pv_view: MeterView, clock: ManualClock) -> None:
    responder = MeterResponder(pv_view, clock, retention_days=3)
    ask(responder, Esv.SETC, [Property(0xE5, b"\x03")])
    old = sm.DayHistory.decode(get(responder, 0xE2).edt(0xE2) or b"")
    assert old.day == 3 and set(old.values) == {None}
    (bad,) = ask(responder, Esv.SETC, [Property(0xE5, bytes([100]))])
    assert bad.esv == Esv.SETC_SNA and bad.properties == (Property(0xE5, bytes([100])),)


def test_ec_follows_ed(
    pv_responder: MeterResponder, pv_view: MeterView, clock: ManualClock
) -> None:
    newest = slot_index(clock.now()) - 5
    at = slot_start(newest).replace(tzinfo=None)
    ed = sm.History2Setting(at, 6).encode()
    (res,) = ask(pv_responder, Esv.SETC, [Property(0xED, ed)])
    assert res.esv == Esv.SET_RES
    history = sm.History2.decode(get(pv_responder, 0xEC).edt(0xEC) or b"")
    assert history.at == at and len(history.pairs) == 6
    for k, pair in enumerate(history.pairs):
        regs = pv_view.boundary_registers(newest - k)
        assert regs is not None
        assert pair == tuple(pv_responder.scale.raw_from_wh(r) for r in regs)
    future = sm.History2Setting(slot_start(newest + 10).replace(tzinfo=None), 1).encode()
    (rej,) = ask(pv_responder, Esv.SETC, [Property(0xED, future)])
    assert rej.esv == Esv.SETC_SNA


def test_unknown_epc_gives_get_sna_with_good_ones_kept(pv_responder: MeterResponder) -> None:
    reply = get(pv_responder, 0xE7, 0xF5, 0xE1)
    assert reply.esv == Esv.GET_SNA
    assert [p.epc for p in reply.properties] == [0xE7, 0xF5, 0xE1]
    assert reply.properties[1].pdc == 0
    assert reply.properties[0].pdc == 4 and reply.properties[2].pdc == 1


def test_setc_to_read_only_property_is_rejected_with_its_edt(pv_responder: MeterResponder) -> None:
    (reply,) = ask(pv_responder, Esv.SETC, [Property(0xE5, b"\x01"), Property(0xE7, b"\x00\x00")])
    assert reply.esv == Esv.SETC_SNA
    assert reply.properties == (Property(0xE5), Property(0xE7, b"\x00\x00"))


def test_seti_success_is_silent_and_failure_is_sna(pv_responder: MeterResponder) -> None:
    assert ask(pv_responder, Esv.SETI, [Property(0xE5, b"\x01")]) == []
    assert get(pv_responder, 0xE5).edt(0xE5) == b"\x01"
    (reply,) = ask(pv_responder, Esv.SETI, [Property(0xE0, b"\x00\x00\x00\x00")])
    assert reply.esv == Esv.SETI_SNA


def test_setget_sets_first_then_reads(pv_responder: MeterResponder) -> None:
    (reply,) = ask(
        pv_responder,
        Esv.SETGET,
        [Property(0xE5, b"\x01")],
        get_props=(Property(0xE5), Property(0xE2)),
    )
    assert reply.esv == Esv.SETGET_RES
    assert reply.properties == (Property(0xE5),)
    assert reply.get_properties[0] == Property(0xE5, b"\x01")
    assert sm.DayHistory.decode(reply.get_properties[1].edt).day == 1
    (bad,) = ask(pv_responder, Esv.SETGET, [Property(0xE5, b"\xff")], get_props=(Property(0xF1),))
    assert bad.esv == Esv.SETGET_SNA
    assert bad.properties == (Property(0xE5, b"\xff"),) and bad.get_properties == (Property(0xF1),)


def test_inf_req_for_instance_list(pv_responder: MeterResponder) -> None:
    (reply,) = ask(pv_responder, Esv.INF_REQ, [Property(0xD5)], deoj=NODE_PROFILE_EOJ)
    assert reply.esv == Esv.INF and reply.seoj == NODE_PROFILE_EOJ
    assert reply.properties == (Property(0xD5, bytes.fromhex("01028801")),)
    # 0xD5 is announce-only: a Get of it is not possible
    assert get(pv_responder, 0xD5, deoj=NODE_PROFILE_EOJ).esv == Esv.GET_SNA
    (sna,) = ask(pv_responder, Esv.INF_REQ, [Property(0xF3)])
    assert sna.esv == Esv.INF_SNA


def test_six_properties_and_more_are_answered(pv_responder: MeterResponder) -> None:
    epcs = [0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0xD3, 0xD7, 0xE0, 0xE1]
    reply = get(pv_responder, *epcs)
    assert reply.esv == Esv.GET_RES and [p.epc for p in reply.properties] == epcs


def test_max_opc_emulates_a_limited_meter(pv_view: MeterView, clock: ManualClock) -> None:
    responder = MeterResponder(pv_view, clock, max_opc=6)
    reply = get(responder, 0x80, 0x81, 0x82, 0x88, 0x8A, 0xD7, 0xE0)
    assert reply.esv == Esv.GET_SNA
    assert [p.pdc > 0 for p in reply.properties] == [True] * 6 + [False]


def test_property_maps_match_what_is_served(pv_responder: MeterResponder) -> None:
    reply = get(pv_responder, 0x9D, 0x9E, 0x9F)
    get_map = decode_property_map(reply.edt(0x9F) or b"")
    set_map = decode_property_map(reply.edt(0x9E) or b"")
    announce_map = decode_property_map(reply.edt(0x9D) or b"")
    required = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F}
    required |= {0xC0, 0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8}
    required |= {0xEA, 0xEB, 0xEC, 0xED}
    assert get_map == required
    assert set_map == {0x81, 0xE5, 0xED}
    assert {0x80, 0x81, 0x88, 0xEA, 0xEB} <= announce_map
    every = get(pv_responder, *sorted(get_map - {0x9D, 0x9E, 0x9F})[:20])
    assert every.esv == Esv.GET_RES


def test_node_profile_answers_pychonet_discovery(pv_responder: MeterResponder) -> None:
    raw = bytes.fromhex("1081000105ff010ef00162048a008c008300d600")
    (reply,) = [decode_frame(r) for r in pv_responder.respond(raw)]
    assert reply.esv == Esv.GET_RES and reply.tid == 1
    assert reply.edt(0x8C) == b"openami-node"
    assert reply.edt(0xD6) == bytes.fromhex("01028801")
    ident = reply.edt(0x83) or b""
    assert len(ident) == 17 and ident[0] == 0xFE


def test_bad_input_never_raises(pv_responder: MeterResponder) -> None:
    for raw in (b"", b"\x10", b"\x10\x81\x00", bytes(range(40)), b"\x10\x82" + bytes(20)):
        assert pv_responder.respond(raw) == []
    truncated = bytes.fromhex("1081000105ff0102880162 02 e700 e8".replace(" ", ""))
    assert pv_responder.respond(truncated) == []
    assert pv_responder.stats.malformed == 6
    # a frame for an object the node does not have, and responses, get no reply
    assert ask(pv_responder, Esv.GET, [Property(0xE7)], deoj=0x013001) == []
    assert ask(pv_responder, Esv.GET_RES, [Property(0xE7, b"\x00" * 4)]) == []


def test_instance_zero_addresses_the_class(pv_responder: MeterResponder) -> None:
    reply = get(pv_responder, 0xE7, deoj=0x028800)
    assert reply.esv == Esv.GET_RES and reply.seoj == METER


def test_responder_survives_random_and_mutated_frames(pv_responder: MeterResponder) -> None:
    rng = random.Random(3610)
    seeds = [
        bytes.fromhex("1081000105ff0102880161 01 ed07 07ea0b0c031e06".replace(" ", "")),
        bytes.fromhex("1081000105ff0102880161 01 e501 02".replace(" ", "")),
        bytes.fromhex("1081000105ff0102880161 01 8101 08".replace(" ", "")),
        bytes.fromhex("1081000105ff010288016e 01 e50101 02 e500 e700".replace(" ", "")),
        bytes.fromhex("1081000105ff0102880162 03 e700 e800 ea00".replace(" ", "")),
        bytes.fromhex("1081000105ff010ef00163 01 d500".replace(" ", "")),
    ]
    answered = 0
    for _ in range(5_000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(0, 3)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        for reply in pv_responder.respond(bytes(raw)):
            answered += 1
            decode_frame(reply)  # every reply is a well-formed frame
    assert answered > 1_000
    assert pv_responder.stats.received == 5_000
    # and the node still answers properly afterwards
    assert get(pv_responder, 0xE7).esv == Esv.GET_RES


def test_super_class_properties_decode_with_momonga(
    pv_responder: MeterResponder, pv_view: MeterView, clock: ManualClock
) -> None:
    epcs = (0x80, 0x81, 0x82, 0x88, 0x8D, 0x97, 0x98, 0xC0)
    reply = get(pv_responder, *epcs)
    assert reply.esv == Esv.GET_RES

    def edt(epc: int) -> bytes:
        return reply.edt(epc) or b""

    assert Momonga.parse_operation_status(edt(0x80)) is True
    assert Momonga.parse_installation_location(edt(0x81)) == "location not set"
    assert Momonga.parse_standard_version_information(edt(0x82)) == "R.0"
    assert Momonga.parse_fault_status(edt(0x88)) is False
    assert Momonga.parse_serial_number(edt(0x8D)) == f"{pv_view.meter_id:012d}"
    now = clock.now().astimezone(JST)
    assert Momonga.parse_current_time_setting(edt(0x97)) == now.time().replace(
        second=0, microsecond=0
    )
    assert Momonga.parse_current_date_setting(edt(0x98)) == now.date()
    route_b = Momonga.parse_route_b_id(edt(0xC0))
    assert len(edt(0xC0)) == 16 and route_b["manufacturer code"] == b"\xff\xff\xff"
    # installation location: "kitchen 2" is settable, a lone 0x01 (position follows) is not
    (ok,) = ask(pv_responder, Esv.SETC, [Property(0x81, bytes([(3 << 3) | 2]))])
    assert ok.esv == Esv.SET_RES
    assert Momonga.parse_installation_location(get(pv_responder, 0x81).edt(0x81) or b"") == (
        "kitchen 2"
    )
    (bad,) = ask(pv_responder, Esv.SETC, [Property(0x81, b"\x01")])
    assert bad.esv == Esv.SETC_SNA
