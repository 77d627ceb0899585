"""Operator authentication for the dashboard (HTTP Basic, constant-time comparison)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from openami.hub.context import HubContext

basic = HTTPBasic(realm="openami operator")


def operator(request: Request, credentials: Annotated[HTTPBasicCredentials, Depends(basic)]) -> str:
    """Dependency: the operator's HTTP Basic credentials, checked in constant time."""
    context: HubContext = request.app.state.hub
    user_ok = hmac.compare_digest(credentials.username.encode(), context.operator_user.encode())
    pw_ok = hmac.compare_digest(credentials.password.encode(), context.operator_password.encode())
    if not (user_ok and pw_ok):
        raise HTTPException(
            status_code=401,
            detail={"code": "unauthenticated", "message": "operator credentials required"},
            headers={"WWW-Authenticate": 'Basic realm="openami operator"'},
        )
    return credentials.username
