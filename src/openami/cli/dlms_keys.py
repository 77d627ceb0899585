"""`openami dlms keys-init` and `openami dlms rotate-keys`: per-meter DLMS secrets.

``keys-init`` provisions random secrets (password, suite-0 keys, master key) for each meter
into two key stores in --data-dir, the meter emulator's and the head-end's (as a factory
hands a utility its meters' keys), sealed under the master key from ``OPENAMI_MASTER_KEY``
or the 0600 file ``master.key`` (created when neither exists). No secret is ever printed.
``rotate-keys`` changes one meter's keys over the air (Security Setup key transfer); every
rotation is an audit event in the log.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click
import structlog
from rich.console import Console

from openami.hes.dlms.rotation import KeyRotationError, MeterAddress, rotate_keys
from openami.protocols.dlms.wrapper import DEFAULT_PORT
from openami.storage.dlms_counters import ClientCounterFiles
from openami.storage.dlms_keys import (
    MASTER_KEY_ENV,
    DlmsKeyStore,
    KeyStoreError,
    create_master_key_file,
    load_master_key,
    new_device_secrets,
)

console = Console(stderr=True)
log = structlog.get_logger(__name__)

METER_KEYS_FILE = "dlms-meter-keys.json"  # the meter emulator's key store in --data-dir
HES_KEYS_FILE = "dlms-hes-keys.json"  # the head-end's key store in --data-dir
MASTER_KEY_FILE = "master.key"  # used when OPENAMI_MASTER_KEY is not set
METER_STATE_DIR = "dlms-meter-state"  # the emulator's invocation counters
HES_COUNTERS_DIR = "dlms-hes-counters"  # the client's invocation counters

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("openami-data"),
    show_default=True,
    help="Directory of the key stores, the master key file and the invocation counters.",
)


def open_key_store(data_dir: Path, name: str) -> DlmsKeyStore | None:
    """The key store ``name`` in ``data_dir`` (None when there is none)."""
    path = data_dir / name
    if not path.exists():
        return None
    try:
        return DlmsKeyStore(path, load_master_key(data_dir / MASTER_KEY_FILE))
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("keys-init")
@click.option("--meters", default=100, show_default=True, help="Meters to provision.")
@click.option("--first-meter-id", default=1, show_default=True, help="Id of the first meter.")
@data_dir_option
def keys_init(meters: int, first_meter_id: int, data_dir: Path) -> None:
    """Give each meter its own random secrets, in the meter's and the head-end's key stores.

    Meters already in a store keep their secrets. The master key comes from
    OPENAMI_MASTER_KEY or DATA_DIR/master.key (created 0600 if neither exists).
    """
    if not 1 <= meters <= 0xFFFF:
        raise click.BadParameter("1..65535 meters", param_hint="--meters")
    key_file = data_dir / MASTER_KEY_FILE
    try:
        if not os.environ.get(MASTER_KEY_ENV) and not key_file.exists():
            create_master_key_file(key_file)
            console.print(f"new master key in {key_file} (0600): keep it apart from backups")
        master = load_master_key(key_file)
        stores = [DlmsKeyStore(data_dir / n, master) for n in (METER_KEYS_FILE, HES_KEYS_FILE)]
    except KeyStoreError as exc:
        raise click.ClickException(str(exc)) from None
    ids = range(first_meter_id, first_meter_id + meters)
    known = set(stores[0].meter_ids()) | set(stores[1].meter_ids())
    fresh = {meter_id: new_device_secrets() for meter_id in ids if meter_id not in known}
    for store in stores:
        store.put_many(fresh)
    log.info("dlms.keys_provisioned", meters=len(fresh), audit=True)
    console.print(
        f"{len(fresh)} meters provisioned ({meters - len(fresh)} kept) in "
        f"{stores[0].path} and {stores[1].path}"
    )


@click.command("rotate-keys")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True)
@click.option("--meter", "meter_index", required=True, type=int, help="Fleet index (wPort-1).")
@click.option("--meter-id", type=int, default=None, help="Key store id (default: index + 1).")
@click.option("--system-title", default="4f50454e414d4901", show_default=True)
@data_dir_option
def rotate(
    host: str, port: int, meter_index: int, meter_id: int | None, system_title: str, data_dir: Path
) -> None:
    """Give one meter new random suite-0 keys (key transfer over HLS), audited in the log."""
    store = open_key_store(data_dir, HES_KEYS_FILE)
    if store is None:
        raise click.ClickException(f"no key store {data_dir / HES_KEYS_FILE}: run keys-init")
    meter_id = meter_index + 1 if meter_id is None else meter_id
    address = MeterAddress(host, port, meter_index + 1, meter_id, bytes.fromhex(system_title))
    counters = ClientCounterFiles(data_dir / HES_COUNTERS_DIR)
    try:
        asyncio.run(rotate_keys(address, store, counters))
    except KeyRotationError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"meter {meter_id}: new keys in use and saved in {store.path}")
