"""Structured logs (structlog): key=value for people on a terminal, JSON for machines.

Never log secrets: pass identifiers (client_id, supply point key), not tokens or passwords.
Supply point IDs (22 digits, personal data) never reach the HTTP access log: the access
log configuration of :func:`uvicorn_log_config` replaces each with an opaque
``sp-<keyed hash prefix>`` (HMAC-SHA-256 under a key made for the process, so the same
ID reads the same within one run and cannot be looked up by hashing candidate IDs).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import os
import re
import secrets
import sys
from typing import Any

import structlog


def configure(json_logs: bool | None = None, level: str | None = None) -> None:
    """Configure logging once for the process (``OPENAMI_LOG_JSON=1``, ``OPENAMI_LOG_LEVEL``)."""
    if json_logs is None:
        json_logs = os.environ.get("OPENAMI_LOG_JSON", "") in ("1", "true", "yes")
    level_name = (level or os.environ.get("OPENAMI_LOG_LEVEL", "INFO")).upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level_name, logging.INFO))
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level_name, logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


#: a supply point ID: 22 digits, not part of a longer number
SUPPLY_POINT_ID = re.compile(r"(?<![0-9])[0-9]{22}(?![0-9])")
OPAQUE_PREFIX = "sp-"


class OpaqueIdFilter(logging.Filter):
    """Replaces supply point IDs in a record's message and arguments by an opaque form."""

    def __init__(self, key: bytes | None = None) -> None:
        super().__init__()
        self._key = key if key is not None else secrets.token_bytes(32)

    def opaque(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            digest = hmac.new(self._key, match.group().encode(), hashlib.sha256).hexdigest()
            return OPAQUE_PREFIX + digest[:12]

        return SUPPLY_POINT_ID.sub(replace, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.opaque(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self.opaque(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: self.opaque(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def uvicorn_log_config(key: bytes | None = None) -> dict[str, Any]:
    """uvicorn's logging configuration with :class:`OpaqueIdFilter` on every handler (the
    access log and errors alike); pass it as ``uvicorn.run(..., log_config=...)``."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"opaque_ids": {"()": OpaqueIdFilter, "key": key}}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "opaque_ids"]
    return config
