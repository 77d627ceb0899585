"""``--push-to`` (the emulator) and ``--alarm-listen`` (the HES service) take HOST:PORT and
refuse anything else before starting."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from openami.cli.dlms import command as dlms
from openami.cli.options import host_port
from openami.cli.serve_hes import command as serve_hes


def test_host_port_values() -> None:
    assert host_port(None, None, "127.0.0.1:4060") == ("127.0.0.1", 4060)
    assert host_port(None, None, "::1:0") == ("::1", 0)
    assert host_port(None, None, None) is None
    for bad in ("4060", "host:", ":4060", "host:http", "host:70000"):
        with pytest.raises(click.BadParameter):
            host_port(None, None, bad)


@pytest.mark.parametrize(
    ("cli", "args"),
    [
        (dlms, ["serve", "--push-to", "nowhere"]),
        (serve_hes, ["--bus", "nats://127.0.0.1:1", "--alarm-listen", "nowhere"]),
    ],
)
def test_a_bad_address_is_refused_at_once(cli: click.Command, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "HOST:PORT" in result.output
