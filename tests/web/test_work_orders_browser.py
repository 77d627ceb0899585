"""The work orders page in a real browser (Debian's headless Chromium via playwright): an
operator reaches it from the navigation, sees the lead times per kind, the backlog and open
fault tickets, in English and Japanese, with no console error or failed request. Skipped,
with the reason, without playwright or /usr/bin/chromium (see test_dashboard_browser)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.browser_support import Watched, browser, require_browser  # noqa: F401  (fixture)
from tests.web.test_work_orders_api import ACCOUNTS, Site, site  # noqa: F401  (fixture)

from openami.hub.work_orders import work_orders_of

require_browser()


@pytest.fixture
def web(browser: Any, site: Site) -> Iterator[Watched]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    watched = Watched(page, site.base)
    watched.log_in("otto", ACCOUNTS["otto"][1])
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == [], "\n".join(watched.problems)


def test_backlog_and_lead_times(web: Watched, site: Site) -> None:  # noqa: F811
    order = work_orders_of(site.context).create("repair", site.supply_point_id, "otto", "operator")
    page = web.page
    with page.expect_navigation():
        page.click('nav a[href="/work-orders"]')
    assert page.url.startswith(site.base + "/work-orders")
    kinds = page.locator("#lead-times tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert kinds == ["install", "exchange", "repair", "removal"]
    row = page.locator(f'#backlog tr[data-order="{order.work_order_id}"]')
    assert "fault repair" in row.inner_text() and site.supply_point_id in row.inner_text()
    web.goto("/work-orders?lang=ja")
    assert page.locator("h2").first.inner_text() == "工事・故障"
    assert (
        "故障修理" in page.locator(f'#backlog tr[data-order="{order.work_order_id}"]').inner_text()
    )
    work_orders_of(site.context).cancel(order.work_order_id, "otto", "operator")
