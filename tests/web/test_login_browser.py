"""Login and CSRF refusal in a real browser (Debian's headless Chromium via playwright):
the login page sets a strict, HttpOnly session cookie, a wrong password is shown as such, a
form posted with a tampered CSRF token or from another site changes nothing, and logout
ends the session. Skipped, with the reason, without playwright or /usr/bin/chromium (see
test_dashboard_browser)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.browser_support import Watched, browser, require_browser  # noqa: F401  (fixture)
from tests.web.test_login import ADMIN, Site, site  # noqa: F401  (fixture)

require_browser()


@pytest.fixture
def web(browser: Any, site: Site) -> Iterator[Watched]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    watched = Watched(page, site.base)
    try:
        yield watched
    finally:
        context.close()
    assert watched.problems == [], "\n".join(watched.problems)


def test_login_page_session_cookie_and_logout(web: Watched, site: Site) -> None:  # noqa: F811
    page = web.page
    page.goto(site.base + "/network")
    assert page.url.startswith(site.base + "/login?next=")  # sent to log in first
    page.fill("#login-form input[name=name]", ADMIN[0])
    page.fill("#login-form input[name=password]", "not-the-password")
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    assert page.locator("#login-error").inner_text() == "Wrong name or password."
    page.fill("#login-form input[name=name]", ADMIN[0])
    page.fill("#login-form input[name=password]", ADMIN[1])
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")
    assert page.url == site.base + "/network"  # back where the operator was going
    assert page.locator("#operator-name").inner_text().startswith("admin")
    [cookie] = [c for c in page.context.cookies() if c["name"] == "openami_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie").find("openami_session") == -1  # not for scripts
    with page.expect_navigation():
        page.click("#logout-form button[type=submit]")
    assert page.url.startswith(site.base + "/login")
    page.goto(site.base + "/network")
    assert page.url.startswith(site.base + "/login?next=")  # the session is over
    _expected(web, 401)  # the wrong password, only


def _expected(web: Watched, status: int) -> None:
    """Drop the one refusal the test provoked (its response and console line), no more."""
    ours = [p for p in web.problems if f"HTTP {status} " in p or f"status of {status} " in p]
    assert 1 <= len(ours) <= 2, web.problems
    web.problems = [p for p in web.problems if p not in ours]


def test_forms_with_a_tampered_or_foreign_csrf_token_change_nothing(
    web: Watched,
    site: Site,  # noqa: F811
) -> None:
    page = web.page
    web.log_in(*ADMIN)
    web.goto("/operators")
    page.fill("#add-operator-form input[name=name]", "eve-browser")
    page.fill("#add-operator-form input[name=password]", "eve-browser-password")
    page.locator("#add-operator-form input[name=csrf_token]").evaluate(
        "el => { el.value = 'tampered' }"
    )
    with page.expect_navigation() as nav:
        page.click("#add-operator-form button[type=submit]")
    assert nav.value.status == 403 and "csrf_refused" in page.content()
    assert site.context.operator_accounts.store.get("eve-browser") is None

    # another site posts the same form (with whatever token it likes) into the hub
    page.goto("about:blank")
    page.set_content(
        f'<form id="f" method="post" action="{site.base}/operators">'
        '<input name="name" value="eve-browser"><input name="role" value="admin">'
        '<input name="password" value="eve-browser-password">'
        '<input name="csrf_token" value="guess"></form>'
    )
    with page.expect_navigation():
        page.locator("#f").evaluate("f => f.submit()")
    assert "/login" in page.url  # the strict cookie stayed home: not logged in there
    assert site.context.operator_accounts.store.get("eve-browser") is None

    # the real form, untouched, works
    web.goto("/operators")
    page.fill("#add-operator-form input[name=name]", "eve-browser")
    page.fill("#add-operator-form input[name=password]", "eve-browser-password")
    with page.expect_navigation() as nav:
        page.click("#add-operator-form button[type=submit]")
    assert nav.value.status == 201 and page.locator("#operators-message").is_visible()
    account = site.context.operator_accounts.store.get("eve-browser")
    assert account is not None and account.role == "viewer"
    _expected(web, 403)  # the tampered token, only
