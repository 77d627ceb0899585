"""The vendored ESPI 4.0 schema (../shared/data/espi), loaded once with lxml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

ESPI_DIR = Path(__file__).resolve().parents[4] / "shared" / "data" / "espi"


@cache
def espi_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(ESPI_DIR / "espi.xsd")))


def xsd_errors(document: bytes) -> list[str]:
    """Validation errors of a whole Atom/ESPI document (empty when valid)."""
    schema = espi_schema()
    ok = schema.validate(etree.fromstring(document))
    return [] if ok else [f"{e.line}: {e.message}" for e in schema.error_log]
