"""openami's own DLMS/COSEM client for the head-end (asyncio, TCP wrapper, suite 0)."""

from openami.hes.dlms.client import (
    AssociationRefused,
    ClientCounterStore,
    DlmsClient,
    DlmsError,
    ListItemError,
    Register,
)

__all__ = [
    "AssociationRefused",
    "ClientCounterStore",
    "DlmsClient",
    "DlmsError",
    "ListItemError",
    "Register",
]
