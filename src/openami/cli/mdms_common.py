"""What the `openami mdms` subcommands share: options, opening the MDMS, parsing input."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import click
import pyarrow as pa
import pyarrow.csv as pacsv
from rich.console import Console

from openami.clock import SLOT_SECONDS, RealClock, slot_index
from openami.mdms.service import Mdms
from openami.mdms.vee_config import load_vee_config
from openami.registry import InvalidSupplyPointId, Registry
from openami.storage.interval_files import IntervalStoreUnavailable, open_interval_store
from openami.storage.repositories import open_database
from openami.storage.repositories.audit import AuditLog

err = Console(stderr=True)
EXIT_BAD_ROWS = 3
#: files the commands write are readable by their owner only
PRIVATE_FILE_MODE = 0o600

DATA_DIR = click.option(
    "--data-dir",
    default="openami-data",
    show_default=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory holding registry.sqlite and interval.duckdb (as `openami demo` writes).",
)
VEE_CONFIG = click.option(
    "--vee-config",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="VEE rule parameters (TOML, same shape as openami/config/vee.toml).",
)


@contextmanager
def open_mdms(data_dir: Path, vee_config: Path | None = None) -> Iterator[Mdms]:
    """The MDMS of an openami data directory, closed again afterwards."""
    registry_path = data_dir / "registry.sqlite"
    if not registry_path.exists():
        raise click.ClickException(
            f"no registry at {registry_path}; run `openami demo --once --data-dir {data_dir}` "
            "or point --data-dir at an existing openami data directory"
        )
    try:
        cfg = load_vee_config(vee_config)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"bad VEE config: {exc}") from None
    database = open_database(registry_path)
    registry = Registry(database)
    try:
        store = open_interval_store(data_dir / "interval.duckdb")
    except IntervalStoreUnavailable as exc:
        registry.close()
        raise click.ClickException(str(exc)) from None
    try:
        # people's edits and estimation runs go in the audit chain
        yield Mdms(store, registry, RealClock(), cfg, audit=AuditLog(database))
    finally:
        store.close()
        registry.close()


def supply_point_key(mdms: Mdms, supply_point_id: str) -> int:
    """The key of a supply point the registry knows; a clear error otherwise."""
    try:
        sp = mdms.registry.supply_point(supply_point_id)
    except InvalidSupplyPointId as exc:
        raise click.BadParameter(str(exc)) from None
    if sp is None:
        raise click.ClickException(f"unknown supply point {supply_point_id}")
    return sp.supply_point_key


def parse_instant(text: str, name: str) -> int:
    """The slot starting at an ISO 8601 instant with a UTC offset on the :00/:30 grid."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{name} must be ISO 8601, got {text!r}") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{name} needs a UTC offset, e.g. {text}+09:00")
    if moment.timestamp() % SLOT_SECONDS:
        raise click.BadParameter(f"{name} must be on the :00/:30 grid, got {text!r}")
    return slot_index(moment)


def parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{name} must be YYYY-MM-DD, got {text!r}") from None


def parse_days(first: str, last: str) -> tuple[date, date]:
    """``--from`` and ``--to`` as JST days, the first not after the last."""
    first_day, last_day = parse_day(first, "--from"), parse_day(last, "--to")
    if last_day < first_day:
        raise click.BadParameter("--to comes before --from")
    return first_day, last_day


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file only its owner may read (exports hold consumption data)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with open(descriptor, "wb") as fh:
        os.fchmod(fh.fileno(), PRIVATE_FILE_MODE)
        fh.write(data)


def write_private_csv(path: Path, table: pa.Table) -> None:
    """``table`` as CSV in a file only its owner may read."""
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    write_private(path, buf.getvalue())
