"""The dashboard in a real browser: Debian's headless Chromium driven by playwright.

Each page renders with its charts carrying data, search finds a supply point, the language
switch works and sticks, tables sort, and no page logs a console error or fails a request.
Screenshots go to artifacts/screenshots/ (gitignored). Skipped, with the reason, when the
playwright package or /usr/bin/chromium is absent (CI installs both; playwright never
downloads a browser here).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import OPERATOR, DashboardWorld

from openami.web.common import AggregateCache

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

sync_api = pytest.importorskip(
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
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def web(browser: Any, world: DashboardWorld) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    watched = Watched(page, world.base)
    watched.log_in(*OPERATOR)
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == []


def chart_points(page: Any, chart_id: str) -> int:
    chart = page.locator(f"svg#{chart_id}")
    assert chart.is_visible()
    declared = int(chart.get_attribute("data-points"))
    drawn = chart.locator("[data-value]").count()
    assert drawn == declared
    return declared


def test_overview_renders_cards_areas_and_trend(web: Watched) -> None:
    web.goto("/")
    page = web.page
    assert page.locator("#meters-installed").inner_text() == "300"
    assert page.locator(".card.kpi").count() >= 4
    statuses = {page.locator(".card.kpi").nth(i).get_attribute("data-status") for i in range(4)}
    assert "bad" in statuses  # the outage pushes the 48-hour rate below target
    assert page.locator("#area-table tbody tr").count() == 2
    page.wait_for_selector("svg#trend-chart")  # inline, or fetched when the cache was cold
    assert chart_points(page, "trend-chart") >= 8
    web.shot("overview")


def test_overview_fetches_the_trend_when_the_cache_is_cold(
    web: Watched, world: DashboardWorld
) -> None:
    world.app.state.dashboard_cache = AggregateCache()  # as after a restart
    web.goto("/")
    page = web.page
    page.wait_for_selector('#trend[data-loaded="true"] svg#trend-chart')
    assert chart_points(page, "trend-chart") >= 8
    assert page.locator("#meters-installed").inner_text() == "300"


def test_network_renders_timeline_and_concentrators(web: Watched) -> None:
    web.goto("/network")
    page = web.page
    assert chart_points(page, "timeline-chart") == 48 * 3
    assert chart_points(page, "timeline-method-chart") > 0
    assert page.locator("#concentrator-table tbody tr").count() > 0
    first_before = page.locator("#concentrator-table tbody tr").first.get_attribute("data-group")
    page.get_by_role("link", name="Meters", exact=True).click()  # server-side sort by size
    page.wait_for_url("**/network?*sort=meters*")
    assert page.locator("#concentrator-table tbody tr").count() > 0
    assert "meters" in page.url and first_before is not None
    web.shot("network")


def test_search_finds_a_supply_point_and_shows_its_day(web: Watched, world: DashboardWorld) -> None:
    sp = world.city.supply_point_ids[0]  # one of the meters in the outage
    web.goto("/supply-points")
    page = web.page
    page.fill("#sp-query", sp)
    page.click("#sp-search-button")
    page.wait_for_url(f"**/supply-points/{sp}")
    assert page.locator("#sp-id").inner_text() == sp
    assert page.locator("#meter-id").inner_text() == str(int(world.city.fleet.meter_ids[0]))
    assert page.locator("#contract-amperage").inner_text().endswith(" A")
    assert page.locator("svg#load-curve rect.qmark.q-missing").count() == 48
    web.shot("supply-point-missing")
    page.fill("#sp-query", sp[:17])
    page.click("#sp-search-button")
    page.wait_for_url("**/supply-points?q=*")
    assert page.locator("#search-results a").count() > 1
    healthy = world.city.supply_point_ids[20]
    web.goto(f"/supply-points/{healthy}")
    assert chart_points(page, "load-curve") >= 48
    assert page.locator("#reads-table tbody tr").count() == 49
    web.shot("supply-point")


def test_rollout_renders_plan_and_expiry(web: Watched) -> None:
    web.goto("/rollout")
    page = web.page
    assert chart_points(page, "plan-chart") == 11  # fiscal years 2014…2024
    assert chart_points(page, "expiry-chart") > 0
    assert page.locator("#installed-total").inner_text() == "300"
    assert page.locator("#expiry-table tbody tr").count() > 0
    web.shot("rollout")


def test_language_switch_works_and_is_remembered(web: Watched) -> None:
    web.goto("/")
    page = web.page
    assert page.locator("html").get_attribute("lang") == "en"
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'ja'")
    assert "自動検針率" in page.locator("main").inner_text()
    assert page.get_by_role("link", name="通信網").is_visible()
    page.get_by_role("link", name="通信網").click()
    page.wait_for_url("**/network")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "コマ別の収集状況" in page.locator("main").inner_text()
    web.shot("network-ja")
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Collection per slot" in page.locator("main").inner_text()


def test_tables_sort_on_click(web: Watched) -> None:
    web.goto("/")
    page = web.page
    header = page.locator("#kpi-table thead th").nth(1)  # meters
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"

    def meters() -> list[int]:
        cells = page.locator("#kpi-table tbody tr:not(.total) td:nth-child(2)")
        return [int(c.replace(",", "")) for c in cells.all_inner_texts()]

    assert meters() == sorted(meters())
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    assert meters() == sorted(meters(), reverse=True)
    last = page.locator("#kpi-table tbody tr").last
    assert last.get_attribute("data-group") == "all"  # the total stays at the bottom
