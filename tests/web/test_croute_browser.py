"""The C-route page in a real browser (Debian's headless Chromium via playwright), against the
city of ``test_croute_page`` (a completed and a rejected request, consents, webhook
deliveries): the latency chart draws what it declares, the sections are filled, a table
sorts, the language switch works, and no console error or failed request occurs.
Screenshot: artifacts/screenshots/croute.png. Skipped, with the reason, without playwright
or /usr/bin/chromium (see test_dashboard_browser)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.browser_support import Watched, browser, chart_points, require_browser  # noqa: F401
from tests.web.test_croute_page import World, croute_world  # noqa: F401  (fixture)

require_browser()


@pytest.fixture
def web(browser: Any, croute_world: World) -> Iterator[Watched]:  # noqa: F811
    ctx = croute_world.rig.context
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    watched = Watched(page, str(croute_world.rig.http.base_url).rstrip("/"))
    watched.log_in(ctx.operator_user, ctx.operator_password)
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == []


def test_croute_page_renders_sorts_and_switches_language(web: Watched) -> None:
    web.goto("/croute")
    page = web.page
    assert page.locator("nav a.active").inner_text() == "C route"
    assert chart_points(page, "slo-chart") >= 20
    assert page.locator("svg#slo-chart line.target").count() == 1
    assert page.locator("#slo-table tbody tr").count() == 48
    assert page.locator("#request-table tbody tr").count() == 2
    assert page.locator("#consent-table tbody tr").count() == 2
    assert page.locator("#delivery-table tbody tr").count() >= 2
    web.shot("croute")

    # client-side sort of the delivery table by attempts: most attempts first on second click
    head = page.locator("#delivery-table thead th").nth(4)
    head.click()
    head.click()
    assert head.get_attribute("aria-sort") == "descending"
    attempts = [int(a) for a in page.locator("#delivery-table td.attempts").all_inner_texts()]
    assert attempts == sorted(attempts, reverse=True) and attempts[0] >= 2

    page.locator("#lang-switch").click()
    page.wait_for_load_state()
    assert page.locator("nav a.active").inner_text() == "Cルート"
    assert "完了" in page.locator("#request-table").inner_text()
