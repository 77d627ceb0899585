"""openami's own DLMS/COSEM client for the head-end (asyncio, TCP wrapper, suite 0)."""

from openami.hes.dlms.client import (
    AssociationRefused,
    DlmsClient,
    DlmsError,
    ListItemError,
    Register,
)

__all__ = ["AssociationRefused", "DlmsClient", "DlmsError", "ListItemError", "Register"]
