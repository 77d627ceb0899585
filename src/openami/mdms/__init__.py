"""MDMS: ingest of register reads, half-hour values with versions, KPIs."""

from openami.mdms.service import Mdms

__all__ = ["Mdms"]
