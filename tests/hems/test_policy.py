"""Policy files: what loads, what is refused with a clear message, DR targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openami.hems.policy import Policy, PolicyError, load_policy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hems-policy.toml"


def test_the_example_policy_loads() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.contract_limit_w == 40 * 100 - 200
    assert policy.shed_order == ("battery", "water_heater", "ev", "ac")
    assert [b.kind for b in policy.bands] == ["cheap", "peak"]
    assert policy.comfort.ac_cool_max_c == 28 and policy.comfort.battery_reserve == 0.2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[limits]\ncontract_amperage_a = "forty"\n', "contract_amperage_a"),
        ("[limits]\ncontract_amperage_a = 400\n", "contract_amperage_a"),
        ('[priorities]\nshed = ["ev", "ev"]\n', "priorities.shed"),
        ("[comfort]\nbattery_reserve = 1.5\n", "battery_reserve"),
        ('[[tariff.bands]]\nkind = "free"\nstart = "01:00"\nend = "02:00"\n', "kind"),
        ('[[tariff.bands]]\nkind = "cheap"\nstart = "1am"\nend = "02:00"\n', "start"),
        ('[[dr]]\nstart = "soon"\nend = "later"\nlimit_w = 1\n', "dr:"),
        ("not toml at all [", "not valid TOML"),
    ],
)
def test_bad_policies_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PolicyError, match=message):
        load_policy(path)


def test_oversized_policy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("# " + "x" * 70_000)
    with pytest.raises(PolicyError, match="larger than"):
        load_policy(path)


def test_dr_targets_lower_the_limit_only_while_active() -> None:
    start = datetime(2026, 8, 5, 9, 0, tzinfo=UTC)
    policy = Policy().set_dr_target(1500, start, start + timedelta(hours=2))
    assert policy.limit_w(start.timestamp() - 1) == policy.contract_limit_w
    assert policy.limit_w(start.timestamp()) == 1500
    assert policy.limit_w((start + timedelta(hours=2)).timestamp()) == policy.contract_limit_w
    # a target above the contract's does not raise the limit
    high = policy.set_dr_target(9000, start, start + timedelta(hours=1))
    assert high.limit_w(start.timestamp()) == 1500
    with pytest.raises(PolicyError, match="time zone"):
        Policy().set_dr_target(1, datetime(2026, 8, 5), datetime(2026, 8, 6))
    with pytest.raises(PolicyError, match="end after"):
        Policy().set_dr_target(1, start, start)


def test_dr_events_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        '[[dr]]\nstart = "2026-08-05T18:00"\nend = "2026-08-05T20:00"\nlimit_w = 1200\n'
    )
    policy = load_policy(path)  # naive times are JST
    (target,) = policy.dr_targets
    assert target.limit_w == 1200 and target.source == "policy file"
    assert target.start_s == datetime(2026, 8, 5, 9, 0, tzinfo=UTC).timestamp()
