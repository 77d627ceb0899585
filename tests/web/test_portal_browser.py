"""The customer portal in a real browser (Debian's headless Chromium through playwright):
a customer logs in, every page renders in English and Japanese with its chart carrying
data, Download My Data gives a schema-valid ESPI file and a CSV with the data API's values,
a consent is revoked, a B-route application is made, a DR event's half hours show, and no
page logs a console error or fails a request (no external asset: the CSP allows only this
origin). One browser per module; skipped with the reason when playwright or
/usr/bin/chromium is absent, as the dashboard's browser tests.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tests.protocols.espi.xsd import xsd_errors
from tests.web.browser_support import SHOTS, Watched, browser, require_browser  # noqa: F401  (fixture)
from tests.web.conftest import DAY2, DashboardWorld
from tests.web.test_portal import PASSWORD, PortalWorld, _data_api_day, portal_world

from openami.clock import JST
from openami.dr.events import new_event
from openami.hub.dr_api import dr_store
from openami.protocols.espi import UsagePoint, read_feed

require_browser()


class Customer(Watched):
    """The dashboard tests' watched page; a download's request ends as "aborted" in the
    browser (the response becomes a file, not a page): that is no failure."""

    def _failed(self, request: Any) -> None:
        if "/download." in request.url and "ERR_ABORTED" in (request.failure or ""):
            return
        super()._failed(request)


@pytest.fixture(scope="module")
def portal(world: DashboardWorld) -> Iterator[PortalWorld]:
    with portal_world(world) as found:
        yield found


@pytest.fixture
def web(browser: Any, portal: PortalWorld) -> Iterator[Watched]:  # noqa: F811
    """Alice's browser, logged in through the portal's login form."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True
    )
    watched = Customer(context.new_page(), portal.base)
    watched.goto("/my/login")
    page = watched.page
    page.fill("#login-form input[name=customer_id]", portal.alice.customer_id)
    page.fill("#login-form input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    assert page.url.endswith("/my/"), page.url
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == []


def _chart_drawn(page: Any) -> int:
    chart = page.locator("svg#my-load-curve")
    assert chart.is_visible()
    declared = int(chart.get_attribute("data-points"))
    assert chart.locator("[data-value]").count() == declared
    return declared


def test_pages_render_in_english_and_japanese(web: Watched, portal: PortalWorld) -> None:
    page = web.page
    rows = page.locator("#my-points tbody tr")
    assert rows.count() == len(portal.alice.points)
    assert portal.bob.points[0] not in page.content()
    page.click(f"#my-points a:text-is('{portal.alice.points[0]}')")
    page.wait_for_url("**/my/points/*")
    web.goto(f"/my/points/{portal.alice.points[0]}?view=day&date={DAY2}")
    assert _chart_drawn(page) >= 48  # every half hour of the day has an import value
    assert page.locator("#comparisons tbody tr").count() == 2
    web.shot("portal-day")
    page.click("#views a[data-view=month]")
    page.wait_for_url("**view=month**")
    assert page.locator("svg#my-load-curve").get_attribute("data-points") == "30"
    page.click("#views a[data-view=year]")
    page.wait_for_url("**view=year**")
    assert page.locator("#comparisons tbody tr").count() == 1  # previous year only
    page.click("#lang-switch")
    page.wait_for_url("**lang=ja**")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator("#charges-title").inner_text() == "料金の試算"
    web.shot("portal-year-ja")
    web.goto("/my/consents")  # the language sticks (cookie)
    assert page.locator("h2").first.inner_text() == "データ提供の同意"
    # the point in the outage: missing half hours are marked, the page still renders
    web.goto(f"/my/points/{portal.alice.points[1]}?view=day&date={DAY2}&lang=en")
    assert page.locator("svg#my-load-curve rect.qmark").count() > 0


def test_download_my_data_xml_and_csv(web: Watched, portal: PortalWorld, tmp_path: Path) -> None:
    page = web.page
    sp = portal.alice.points[0]
    web.goto(f"/my/points/{sp}?view=day&date={DAY2}")
    assert page.locator("#download-form input[name=from]").input_value() == DAY2.isoformat()
    with page.expect_download() as xml_download:
        page.click("#download-xml")
    xml_path = tmp_path / "my.xml"
    xml_download.value.save_as(str(xml_path))
    document = xml_path.read_bytes()
    assert xsd_errors(document) == []
    names = [
        e.resource.service_delivery_point_name
        for e in read_feed(document).entries
        if isinstance(e.resource, UsagePoint)
    ]
    assert names == [sp]
    with page.expect_download() as csv_download:
        page.click("#download-csv")
    csv_path = tmp_path / "my.csv"
    csv_download.value.save_as(str(csv_path))
    assert csv_download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    api = _data_api_day(portal, sp)
    assert [(r["slot_start"], int(r["import_wh"])) for r in rows] == [
        (a["slot_start"], a["import_wh"]) for a in api
    ]


def test_consent_revoke_and_logout(web: Watched, portal: PortalWorld) -> None:
    page = web.page
    target = portal.consent_ids[0]
    web.goto("/my/consents")
    row = page.locator(f"#consent-{target}")
    assert row.get_attribute("data-status") == "active"
    with page.expect_navigation():
        row.locator("form.revoke button").click()
    assert page.locator("#revoked-notice").is_visible()
    assert page.locator(f"#consent-{target}").get_attribute("data-status") == "revoked"
    assert page.locator(f"#consent-{target} form.revoke").count() == 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    web.shot("portal-consents")
    with page.expect_navigation():
        page.click("#logout-form button[type=submit]")
    assert page.url.endswith("/my/login")
    web.goto("/my/login")  # the portal pages now ask for a login again
    response = page.goto(portal.base + "/my/consents")
    assert response is not None and page.url.split("?")[0].endswith("/my/login")


def test_dr_events_page(web: Watched, portal: PortalWorld) -> None:
    store = dr_store(portal.context)
    aggregator = f"AGG-{portal.alice.customer_id[-8:]}"
    ven = store.enrol(
        f"{aggregator}-a", aggregator, portal.alice.points[0], f"fp-{aggregator}", 0.0
    )
    start_s = datetime(DAY2.year, DAY2.month, DAY2.day, 18, tzinfo=JST).timestamp()
    event = new_event(aggregator, "price", 40, start_s, 3600, 0.0, "test")
    store.create_event(event)
    store.record_opt(event.event_id, ven.ven_id, "optIn", start_s - 3600)
    page = web.page
    web.goto("/my/dr")
    row = page.locator(f"#my-dr tr[data-event='{event.event_id}']")
    assert row.count() == 1
    with page.expect_navigation():
        row.locator("a").click()
    assert page.locator("svg#my-dr-units").is_visible()
    assert page.locator("#dr-units tbody tr").count() == 2
    web.shot("portal-dr")


def test_broute_application(web: Watched, portal: PortalWorld) -> None:
    page = web.page
    sp = portal.alice.points[0]
    web.goto("/my/broute")
    row = page.locator(f"#my-broute tr[data-sp='{sp}']")
    assert row.get_attribute("data-status") == "none"
    with page.expect_navigation():
        row.locator("form.apply button").click()
    assert page.locator("#broute-done").is_visible()
    assert page.locator(f"#my-broute tr[data-sp='{sp}']").get_attribute("data-status") == "issued"
    web.shot("portal-broute")
