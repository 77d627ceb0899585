"""Customer actions are CSRF-protected (issue #15 §3): a browser sends a customer's Basic
credentials with any site's request, so revoking a consent needs a header no other site can
send, and a cross-site request is refused; the consent stays as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.hub.test_oauth_flow import Setup, consented, served

from openami.hub.oauth_grants import consent_store


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with served(Path(tmp_path_factory.mktemp("csrf"))) as s:
        yield s


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a plain cross-site form post carries no custom header
        {"Origin": "http://evil.test", "X-Requested-With": "x"},
        {"Sec-Fetch-Site": "cross-site", "X-Requested-With": "x"},
        {"Origin": "https://127.0.0.1", "X-Requested-With": "x"},  # same host, other scheme
    ],
)
def test_revoke_refuses_requests_another_site_could_make(
    setup: Setup, headers: dict[str, str]
) -> None:
    consent, _ = consented(setup)
    path = f"/v1/customer/consents/{consent['consent_id']}/revoke"
    resp = setup.http.post(path, auth=setup.customer, headers=headers)
    assert resp.status_code == 403 and resp.json()["code"] == "csrf_refused"
    stored = consent_store(setup.world.context).get(consent["consent_id"])
    assert stored is not None and stored.revoked_at is None  # nothing changed


def test_revoke_works_for_the_hubs_own_pages_and_programs(setup: Setup) -> None:
    host = setup.http.base_url.netloc.decode()
    for headers in (
        {"X-Requested-With": "app"},
        {"X-Requested-With": "fetch", "Origin": f"http://{host}", "Sec-Fetch-Site": "same-origin"},
    ):
        consent, _ = consented(setup)
        path = f"/v1/customer/consents/{consent['consent_id']}/revoke"
        resp = setup.http.post(path, auth=setup.customer, headers=headers)
        assert resp.status_code == 200 and resp.json()["status"] == "revoked"
