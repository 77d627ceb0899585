"""Configuration of a running openami: one TOML file, ``OPENAMI_*`` environment variables,
then command-line options, each overriding the one before.

Every key of :class:`Settings` may be written in the file (top level, or in an
``[openami]`` table) and as ``OPENAMI_<KEY>`` in the environment (``OPENAMI_DATA_DIR``,
``OPENAMI_DB_URL``, ``OPENAMI_PORT`` …). Unknown keys and values of the wrong type are
refused with a message naming the key, never ignored. Secrets (``operator_password``,
``metrics_token``) are best given in the environment or a file only the service can read.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

ENV_PREFIX = "OPENAMI_"
SECRET_KEYS = frozenset({"operator_password", "metrics_token"})
#: URLs that may carry a password (shown without it)
URL_KEYS = frozenset({"db_url", "bus_url", "shared_values_uri", "redis_url"})
BUS_SCHEMES = ("nats://", "tls://")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class SettingsError(ValueError):
    """A configuration value that cannot be used (the message names the key and source)."""


@dataclass(frozen=True)
class Settings:
    #: where the SQLite store, the interval store and the credentials file live
    data_dir: Path = Path("openami-data")
    #: the transactional store instead of SQLite in ``data_dir`` (postgresql+psycopg://…)
    db_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: a new city: how many simulated meters, how many JST days before today, which seed
    meters: int = 2000
    days: int = 1
    seed: int = 1
    start: date | None = None  # a new city's first day instead of ``days`` before today
    #: simulated seconds per step of the city's loop
    tick_s: float = 300.0
    #: wall seconds between two steps of the live city while serving
    live_every_s: float = 2.0
    #: wall seconds between two saves of the MDMS tick state while serving (it is also saved
    #: on shutdown); a start loads it when the store has not been written since
    tick_state_every_s: float = 1800.0
    #: simulated seconds per wall second while serving; 1 follows the wall clock, more runs
    #: the city faster (demonstrations, tests) from where it stopped
    speed: float = 1.0
    operator_password: str | None = None
    metrics_token: str | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: reverse proxies whose X-Forwarded-For is believed (addresses or networks); none by default
    trusted_proxies: tuple[str, ...] = ()
    #: request bodies larger than this are refused (413) before they are read
    max_body_bytes: int = 1024 * 1024
    log_json: bool = False
    log_level: str | None = None
    #: the bus: in-process when unset, else NATS JetStream at this URL (nats://host:4222)
    bus_url: str | None = None
    #: supply point partitions of the bus's subjects (fixed when a deployment is created)
    bus_partitions: int = 64
    #: first token of the bus's subjects and streams (one per deployment sharing a server)
    bus_prefix: str = "openami"
    #: the shared interval store (a Delta Lake directory, docs/interval-store.md): when set,
    #: the MDMS publishes its new value versions there after each tick, for readers in other
    #: processes; off by default (one process needs none)
    shared_values_uri: str | None = None
    #: Redis (redis://host:6379/0) holding the rate limits and lockouts that every hub
    #: process shares (``openami serve hub``); unset: each process counts in memory
    redis_url: str | None = None
    #: first part of every Redis key (one per deployment sharing a server)
    redis_prefix: str = "openami"

    def __post_init__(self) -> None:
        if self.meters < 1 or self.days < 1:
            raise SettingsError("meters and days must be at least 1")
        if not 0 < self.port < 65536:
            raise SettingsError(f"port must be 1-65535, got {self.port}")
        if self.max_body_bytes < 1024:
            raise SettingsError("max_body_bytes must be at least 1024")
        if min(self.tick_s, self.live_every_s, self.speed, self.tick_state_every_s) <= 0:
            raise SettingsError(
                "tick_s, live_every_s, tick_state_every_s and speed must be positive"
            )
        if self.bus_url is not None and not self.bus_url.startswith(BUS_SCHEMES):
            raise SettingsError(f"bus_url must start with {' or '.join(BUS_SCHEMES)}")
        if self.redis_url is not None and not self.redis_url.startswith(REDIS_SCHEMES):
            raise SettingsError(f"redis_url must start with {' or '.join(REDIS_SCHEMES)}")
        if not 1 <= self.bus_partitions <= 4096:
            raise SettingsError("bus_partitions must be 1-4096")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise SettingsError("tls_cert and tls_key go together: give both or neither")

    def shown(self) -> dict[str, str]:
        """Every setting as text for people, secrets masked."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_KEYS and value:
                value = "********"
            elif f.name in URL_KEYS and value:
                value = url_without_password(str(value))
            out[f.name] = "" if value is None else str(value)
        return out


_FIELDS = {f.name: f for f in fields(Settings)}


def url_without_password(url: str) -> str:
    """``url`` with the password of its user part (``user:password@``) masked."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:********@{host}"


def _convert(key: str, raw: Any, source: str) -> Any:
    """``raw`` (TOML value or environment text) as the type of setting ``key``."""
    kind = str(_FIELDS[key].type)
    if raw is None or (isinstance(raw, str) and raw == "" and "None" in kind):
        return None
    try:
        if kind.startswith("tuple"):
            items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
            return tuple(str(item).strip() for item in items if str(item).strip())
        if kind.startswith("Path"):
            return Path(str(raw))
        if kind.startswith("date"):
            return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
        if kind.startswith("bool"):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(f"not a yes/no value: {raw!r}")
            return text in ("1", "true", "yes")
        if kind.startswith("int"):
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(f"not a whole number: {raw!r}")
            return int(raw)
        if kind.startswith("float"):
            if isinstance(raw, bool):
                raise ValueError(f"not a number: {raw!r}")
            return float(raw)
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{key} from {source}: {exc}") from None


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"cannot read the configuration file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from None
    table = document.get("openami", document)
    if not isinstance(table, dict):
        raise SettingsError(f"{path}: [openami] must be a table")
    unknown = sorted(set(table) - set(_FIELDS))
    if unknown:
        raise SettingsError(f"{path}: unknown setting(s) {', '.join(unknown)}")
    return {k: _convert(k, v, str(path)) for k, v in table.items()}


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for key in _FIELDS:
        name = ENV_PREFIX + key.upper()
        if name in env:
            values[key] = _convert(key, env[name], name)
    return values


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults, then the TOML file at ``path``, then ``env`` (the process environment by
    default), then ``overrides`` (command-line options; None values are left out)."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(path))
    values.update(_from_env(os.environ if env is None else env))
    for key, value in (overrides or {}).items():
        if key not in _FIELDS:
            raise SettingsError(f"unknown setting {key}")
        if value is not None:
            values[key] = _convert(key, value, f"--{key.replace('_', '-')}")
    try:
        return Settings(**values)
    except TypeError as exc:
        raise SettingsError(str(exc)) from None


def replace(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)
