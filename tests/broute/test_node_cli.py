"""`openami broute serve`: the command runs meter nodes that a client can read."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

from click.testing import CliRunner

from openami.cli.broute import command
from openami.protocols.echonet import Esv, Frame, Property, decode_frame
from openami.protocols.echonet.high_voltage_meter import HIGH_VOLTAGE_METER_EOJ
from openami.protocols.echonet.objects import CONTROLLER_EOJ
from openami.protocols.echonet.smart_meter import SMART_METER_EOJ


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def test_serve_answers_gets_on_consecutive_addresses() -> None:
    port = _free_port("127.0.0.21")
    args = ["broute", "serve", "--bind", "127.0.0.21", "--port", str(port), "--meters", "2"]
    args += ["--reply-to-sender-port", "--duration", "20"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "openami.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.settimeout(0.2)
            seen: dict[str, int] = {}
            deadline = time.monotonic() + 15
            while len(seen) < 2 and time.monotonic() < deadline:
                for k, host in enumerate(("127.0.0.21", "127.0.0.22")):
                    get = Frame(k, CONTROLLER_EOJ, SMART_METER_EOJ, Esv.GET, (Property(0xD7),))
                    client.sendto(get.encode(), (host, port))
                try:
                    data, addr = client.recvfrom(512)
                except TimeoutError:
                    continue
                reply = decode_frame(data)
                assert reply.esv == Esv.GET_RES and reply.edt(0xD7) == b"\x06"
                seen[addr[0]] = reply.tid
        assert seen == {"127.0.0.21": 0, "127.0.0.22": 1}
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "ECHONET Lite meter nodes" in err and "127.0.0.22" in err


def test_serve_rejects_several_meters_on_a_wildcard_address() -> None:
    result = CliRunner().invoke(command, ["serve", "--bind", "0.0.0.0", "--meters", "2"])
    assert result.exit_code != 0
    assert "specific start address" in result.output


def test_help_explains_the_options() -> None:
    result = CliRunner().invoke(command, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--bind", "--port", "--meters", "--seed", "--reply-to-sender-port"):
        assert option in result.output


def test_serve_high_voltage_meters() -> None:
    """`--high-voltage`: the node serves 0x028A01 with the multiplier as its coefficient."""
    port = _free_port("127.0.0.31")
    args = ["broute", "serve", "--bind", "127.0.0.31", "--port", str(port), "--high-voltage"]
    args += ["--multiplier", "120", "--reply-to-sender-port", "--duration", "20"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "openami.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.bind(("127.0.0.1", 0))
            client.settimeout(0.2)
            reply = None
            deadline = time.monotonic() + 15
            while reply is None and time.monotonic() < deadline:
                get = Frame(
                    7,
                    CONTROLLER_EOJ,
                    HIGH_VOLTAGE_METER_EOJ,
                    Esv.GET,
                    (Property(0xD3), Property(0xC5)),
                )
                client.sendto(get.encode(), ("127.0.0.31", port))
                try:
                    data, _addr = client.recvfrom(512)
                except TimeoutError:
                    continue
                reply = decode_frame(data)
        assert reply is not None and reply.esv == Esv.GET_RES
        assert int.from_bytes(reply.edt(0xD3), "big") == 120
        assert reply.edt(0xC5) == b"\x01"  # demand in 0.1 kW
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
