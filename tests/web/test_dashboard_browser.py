"""The dashboard in a real browser: Debian's headless Chromium driven by playwright.

Each page renders with its charts carrying data, search finds a supply point, the language
switch works and sticks, tables sort, and no page logs a console error or fails a request.
Screenshots go to artifacts/screenshots/ (gitignored). Skipped, with the reason, when the
playwright package or /usr/bin/chromium is absent (CI installs both; playwright never
downloads a browser here).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.browser_support import Watched, browser, chart_points, require_browser
from tests.web.conftest import OPERATOR, DashboardWorld

from openami.web.common import AggregateCache

__all__ = ["browser"]  # a fixture
require_browser()


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
