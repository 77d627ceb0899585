"""`openami broute serve`: the command runs meter nodes that a client can read."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner
from tests.mdms.vee_world import make_data_dir

from openami.cli.broute import command
from openami.protocols.echonet import Esv, Frame, Property, decode_frame
from openami.protocols.echonet.high_voltage_meter import HIGH_VOLTAGE_METER_EOJ
from openami.protocols.echonet.objects import CONTROLLER_EOJ
from openami.protocols.echonet.smart_meter import SMART_METER_EOJ
from openami.registry import Registry


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


def _get_hv(host: str, port: int, epcs: tuple[int, ...]) -> Frame | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.bind(("127.0.0.1", 0))
        client.settimeout(0.2)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            props = tuple(Property(e) for e in epcs)
            get = Frame(7, CONTROLLER_EOJ, HIGH_VOLTAGE_METER_EOJ, Esv.GET, props)
            client.sendto(get.encode(), (host, port))
            try:
                data, _addr = client.recvfrom(512)
            except TimeoutError:
                continue
            return decode_frame(data)
    return None


def _serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "openami.cli.main", "broute", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_high_voltage_meters() -> None:
    """`--high-voltage`: the node serves 0x028A01 with the multiplier as its coefficient."""
    port = _free_port("127.0.0.31")
    proc = _serve(
        "--bind", "127.0.0.31", "--port", str(port), "--high-voltage", "--multiplier", "120",
        "--reply-to-sender-port", "--duration", "20",
    )  # fmt: skip
    try:
        reply = _get_hv("127.0.0.31", port, (0xD3, 0xC5))
        assert reply is not None and reply.esv == Esv.GET_RES
        assert int.from_bytes(reply.edt(0xD3) or b"", "big") == 120
        assert reply.edt(0xC5) == b"\x01"  # demand in 0.1 kW
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err


def test_serve_the_meter_of_a_registry_point(tmp_path: Path) -> None:
    """`--supply-point ID --data-dir D`: a high-voltage point gets 0x028A01 with its meter's
    multiplier; a conventional meter has no B route (a clear error)."""
    data = tmp_path / "data"
    ids = make_data_dir(data, 2)  # meters 1000 and 1001
    registry = Registry.open(data / "registry.sqlite")
    key = registry.supply_point_key_of([ids[0]])[ids[0]]
    registry.kinds.set_point_classes([(key, "high", "industrial")])
    registry.kinds.set_meter_kinds([(1000, "smart", 60), (1001, "conventional", 1)])
    registry.close()
    refused = CliRunner().invoke(
        command, ["serve", "--data-dir", str(data), "--supply-point", ids[1]]
    )
    assert refused.exit_code == 1 and "conventional meter" in refused.output
    port = _free_port("127.0.0.41")
    proc = _serve(
        "--bind", "127.0.0.41", "--port", str(port), "--data-dir", str(data),
        "--supply-point", ids[0], "--reply-to-sender-port", "--duration", "20",
    )  # fmt: skip
    try:
        reply = _get_hv("127.0.0.41", port, (0xD3,))
        assert reply is not None and reply.esv == Esv.GET_RES
        assert int.from_bytes(reply.edt(0xD3) or b"", "big") == 60
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "1000" in err  # the registry's meter id
