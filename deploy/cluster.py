"""`make cluster`: the multi-process deployment on this machine, under honcho.

Prepares DATA_DIR (the DLMS field's and the HES's key stores, the field's meters in the
registry), writes DATA_DIR/Procfile with one line per process and runs it with honcho:

- ``nats``: only when nothing answers at --bus and ``nats-server`` is on PATH;
- ``field``: ``openami dlms serve --meters N`` (the emulated DLMS meters);
- ``hes``: ``openami serve hes`` (collection and commands over DLMS/TCP → JetStream);
- ``mdms_a``, ``mdms_b``: ``openami serve mdms --worker …`` when this openami has it;
- ``hub``: ``openami serve hub`` (the hub's API and dashboard without a head-end: retailer
  requests become commands on ``hes.command_requests``, the HES's outcomes conclude them).

The field's supply points are supplied by retailer R001 (``register-field --retailer``),
whose API client secret is in DATA_DIR/field-credentials.json.

Usage: python deploy/cluster.py --data-dir DIR --meters N --bus nats://… [--db URL]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

BIN = Path(sys.executable).parent
OPENAMI = str(BIN / "openami")
CREDENTIALS_FILE = "hub-credentials.json"  # openami.cli.serve_hub.CREDENTIALS_FILE
FIELD_CREDENTIALS = "field-credentials.json"  # openami.cli.dlms_field.FIELD_CREDENTIALS


def answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), 1).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def has_command(*args: str) -> bool:
    done = subprocess.run([OPENAMI, *args, "--help"], capture_output=True, check=False)
    return done.returncode == 0


def openami(*args: str) -> None:
    subprocess.run([OPENAMI, *args], check=True)


def procfile(args: argparse.Namespace, data: Path, field_port: int) -> tuple[str, list[str]]:
    lines, notes = [], []
    bus = urlparse(args.bus)
    if not answers(bus.hostname or "127.0.0.1", bus.port or 4222):
        binary = shutil.which("nats-server")
        if binary is None:
            sys.exit(f"nothing answers at {args.bus} and nats-server is not on PATH")
        store = data / "nats"
        lines.append(f"nats: {binary} -js -a 127.0.0.1 -p {bus.port or 4222} -sd {store}")
        notes.append(f"NATS started here: {args.bus} (store {store})")
    db = ["--db", args.db] if args.db else []
    lines.append(
        f"field: {OPENAMI} dlms serve --meters {args.meters} --port {field_port} "
        f"--data-dir {data} --no-fsync"
    )
    lines.append(f"hes: {OPENAMI} serve hes --data-dir {data} {' '.join(db)} --bus {args.bus}")
    shared = data / "shared-values"  # the workers publish, the hub reads (issue 13 §3)
    if has_command("serve", "mdms"):
        mdms_db = args.db or f"sqlite:///{data / 'registry.sqlite'}"
        for worker in ("a", "b"):
            lines.append(
                f"mdms_{worker}: {OPENAMI} serve mdms --worker {worker} --bus {args.bus} "
                f"--db {mdms_db} --data-dir {data / 'mdms'} --shared-values {shared}"
            )
    else:
        notes.append("this openami has no `serve mdms` yet: no MDMS workers started")
    lines.append(
        f"hub: {OPENAMI} serve hub --data-dir {data} {' '.join(db)} --bus {args.bus} "
        f"--port {args.web_port} --shared-values {shared}"
    )
    notes.append(f"dashboard and hub API: http://127.0.0.1:{args.web_port}/")
    notes.append(f"operator: {data / CREDENTIALS_FILE} (owner-only, written at first start)")
    notes.append(f"retailer R001's API client: {data / FIELD_CREDENTIALS} (owner-only)")
    notes.append(f"DLMS field: 127.0.0.1:{field_port}, {args.meters} meters; bus: {args.bus}")
    # `exec`: the process itself gets honcho's SIGTERM, not a shell in front of it
    lines = [f"{name}: exec {command}" for name, command in (line.split(": ", 1) for line in lines)]
    return "\n".join(lines) + "\n", notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("cluster-data"))
    parser.add_argument("--meters", type=int, default=2000)
    parser.add_argument("--bus", default="nats://127.0.0.1:4222")
    parser.add_argument("--db", default=None, help="postgresql+psycopg://… (default: SQLite)")
    parser.add_argument("--web-port", type=int, default=8000)
    parser.add_argument("--field-port", type=int, default=None)
    args = parser.parse_args()
    data = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    port_file = data / "field.port"
    field_port = args.field_port or (
        int(port_file.read_text()) if port_file.exists() else free_port()
    )
    port_file.write_text(str(field_port))
    if not (data / "dlms-hes-keys.json").exists():
        openami("dlms", "keys-init", "--meters", str(args.meters), "--data-dir", str(data))
    db = ["--db", args.db] if args.db else []
    openami(
        "dlms", "register-field", "--meters", str(args.meters), "--port", str(field_port),
        "--data-dir", str(data), "--retailer", "R001", *db,
    )  # fmt: skip
    # the hub signs remote switching, the HES verifies: one key, made before either starts
    from openami.storage.repositories.command_signing import load_signing_key

    load_signing_key(data)
    text, notes = procfile(args, data, field_port)
    (data / "Procfile").write_text(text)
    print(f"\nProcfile: {data / 'Procfile'}")
    for note in notes:
        print(f"  {note}")
    print("Ctrl-C stops every process.\n", flush=True)
    os.execv(
        str(BIN / "honcho"),
        [str(BIN / "honcho"), "-d", str(data), "-f", str(data / "Procfile"), "start"],
    )


if __name__ == "__main__":
    main()
