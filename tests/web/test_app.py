"""The app's routers are matched in the order of ``ROUTERS`` (busiest first); that order may
change freely only while no route of one router could answer a path of another's."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from openami.web.app import ROUTERS


def _sample(path: str) -> str:
    """A concrete path for a route's template (each parameter replaced by a plain value)."""
    return re.sub(r"\{[^}]+\}", "X1", path)


def test_no_route_of_one_router_answers_a_path_of_another() -> None:
    routes = [
        (i, r) for i, router in enumerate(ROUTERS) for r in router.routes if isinstance(r, APIRoute)
    ]
    assert len(routes) > 100  # every router is there
    clashes = [
        (a.path, sorted(a.methods or ()), b.path)
        for i, a in routes
        for j, b in routes
        if i != j
        and (a.methods or set()) & (b.methods or set())
        and a.path_regex.match(_sample(b.path))
    ]
    assert clashes == []
