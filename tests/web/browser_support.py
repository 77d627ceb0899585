"""What the browser tests share: Debian's headless Chromium driven by playwright, a page
that records every problem it meets, and :func:`require_browser`, which each browser test
module calls after its imports, so that the module is skipped, with the reason, where
playwright or Chromium is absent (CI installs both; playwright never downloads a browser
here). Importing this module needs neither.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("OPENAMI_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def require_browser() -> None:
    """Skip the calling test module, saying why, without playwright or Chromium."""
    pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    if not CHROMIUM.exists():
        pytest.skip(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)",
            allow_module_level=True,
        )


class Watched:
    """A page plus every console error, page error and failed response it produced."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.on("requestfailed", self._failed)

    def _failed(self, request: Any) -> None:
        # the browser's own icon fetch is cancelled when the page moves on quickly (a login
        # submits its form at once): that is no failure of the dashboard
        if request.url.endswith("/favicon.svg") and "ERR_ABORTED" in (request.failure or ""):
            return
        self.problems.append(f"request failed {request.url}")

    def goto(self, path: str) -> None:
        response = self.page.goto(self.base + path)
        assert response is not None and response.ok, path

    def log_in(self, user: str, password: str) -> None:
        """Through the login page, as an operator would (landing on a light page, so no
        test starts with the overview's warm-up under way)."""
        self.goto("/login?next=%2Fsupply-points")
        self.page.fill("#login-form input[name=name]", user)
        self.page.fill("#login-form input[name=password]", password)
        with self.page.expect_navigation():
            self.page.click("#login-form button[type=submit]")
        assert not self.page.url.split("?")[0].endswith("/login"), self.page.url

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def chart_points(page: Any, chart_id: str) -> int:
    chart = page.locator(f"svg#{chart_id}")
    assert chart.is_visible()
    declared = int(chart.get_attribute("data-points"))
    drawn = chart.locator("[data-value]").count()
    assert drawn == declared
    return declared
