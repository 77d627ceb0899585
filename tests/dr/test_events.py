"""Event checks and the OpenADR signal profile."""

from __future__ import annotations

import math

import pytest

from openami.dr.events import check_signal, new_event, oadr_signal

START = 1_800_000_000.0  # 2027-01-15 17:00 JST, on the half-hour grid


@pytest.mark.parametrize(
    ("signal", "value"),
    [
        ("level", 4),
        ("level", 1.5),
        ("level", -1),
        ("target_w", 0),
        ("target_w", 1e9),
        ("price", -1),
        ("price", math.nan),
        ("target_w", math.inf),
        ("shed", 1),
    ],
)
def test_bad_signals_are_refused(signal: str, value: float) -> None:
    with pytest.raises(ValueError):
        check_signal(signal, value)


def test_windows_and_signals() -> None:
    with pytest.raises(ValueError):
        new_event("A", "level", 1, START + 60, 1800, 0.0, "t")  # off the grid
    with pytest.raises(ValueError):
        new_event("A", "level", 1, START, 1800, START + 1800, "t")  # over already
    with pytest.raises(ValueError):
        new_event("A", "level", 1, START, 25 * 3600, 0.0, "t")  # longer than a day
    event = new_event("A", "level", 2, START, 3600, 0.0, "t")
    assert event.event_id.startswith("dr-") and len(event.event_id) == 19
    assert (oadr_signal(event).signal_name, oadr_signal(event).signal_type) == ("SIMPLE", "level")
    target = new_event("A", "target_w", 1500, START, 1800, 0.0, "t")
    assert (
        oadr_signal(target).signal_name == "LOAD_DISPATCH" and oadr_signal(target).payload == 1500
    )
    price = new_event("A", "price", 42, START, 1800, 0.0, "t")
    assert oadr_signal(price).signal_type == "price"
