"""Issue #15 §2: out-of-range date/time EDTs are refused with SetC_SNA and never break a Get.

A SetC of ED (day/time for historical cumulative 2) with a year before 1888 was accepted;
afterwards every Get naming EC failed inside the node (logged traceback, no reply).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from openami.broute.responder import MeterResponder
from openami.clock import JST, ManualClock, day_first_slot, slot_start
from openami.protocols.echonet import Esv, Property
from openami.protocols.echonet import smart_meter as sm

from .test_responder import ask, get


def _ed(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> bytes:
    return year.to_bytes(2, "big") + bytes((month, day, hour, minute, 1))


@pytest.mark.parametrize(
    "edt",
    [
        _ed(1887, 12, 31, 23, 30),  # before JST existed (LMT +09:18:59: no :00/:30 slot)
        _ed(1),
        _ed(0),  # no year 0
        _ed(1948, 5, 2, 0, 30),  # in Japan's summer time years
        _ed(2026, 11, 2, 0, 0),  # before the meter's retained log (retention: 10 days ago)
        _ed(9999, 12, 31, 23, 30),  # the future has no history
        _ed(2026, 13, 1),
        _ed(2026, 2, 30),
        _ed(2026, 11, 12, 24, 0),
        _ed(2026, 11, 12, 3, 15),
    ],
    ids=lambda e: e.hex(),
)
def test_setc_of_ed_out_of_range_is_refused_and_ec_still_reads(
    pv_responder: MeterResponder, clock: ManualClock, edt: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    responder = MeterResponder(pv_responder.meter, clock, retention_days=3)
    before = get(responder, 0xEC, 0xED)
    (reply,) = ask(responder, Esv.SETC, [Property(0xED, edt)])
    assert reply.esv == Esv.SETC_SNA
    assert reply.properties == (Property(0xED, edt),)  # the rejected EDT is echoed
    with caplog.at_level(logging.ERROR):
        after = get(responder, 0xEC, 0xED)
    assert after.esv == Esv.GET_RES and after == before
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_oldest_retained_slot_is_still_accepted(
    pv_responder: MeterResponder, clock: ManualClock
) -> None:
    responder = MeterResponder(pv_responder.meter, clock, retention_days=3)
    oldest = slot_start(day_first_slot(clock.now().astimezone(JST).date() - timedelta(days=2)))
    at = oldest.replace(tzinfo=None)
    (ok,) = ask(responder, Esv.SETC, [Property(0xED, sm.History2Setting(at, 2).encode())])
    assert ok.esv == Esv.SET_RES
    history = sm.History2.decode(get(responder, 0xEC).edt(0xEC) or b"")
    assert history.at == at
    too_old = (oldest - timedelta(minutes=30)).replace(tzinfo=None)
    (sna,) = ask(responder, Esv.SETC, [Property(0xED, sm.History2Setting(too_old, 1).encode())])
    assert sna.esv == Esv.SETC_SNA


def test_a_getter_that_fails_gives_get_sna_never_silence(
    pv_responder: MeterResponder, caplog: pytest.LogCaptureFixture
) -> None:
    # a stored value that cannot be served (as the old node could hold): only its EPC fails
    object.__setattr__(pv_responder.history2_setting, "at", datetime(1, 1, 1, 0, 0))
    reply = get(pv_responder, 0xE7, 0xEC)
    assert reply.esv == Esv.GET_SNA
    assert reply.properties[0].pdc == 4 and reply.properties[1] == Property(0xEC)
