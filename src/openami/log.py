"""Structured logs (structlog): key=value for people on a terminal, JSON for machines.

Never log secrets: pass identifiers (client_id, supply point key), not tokens or passwords.
"""

from __future__ import annotations

import logging
import os
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
