"""The B-route page of the customer portal over real HTTP (issue #18 §4, §5): a customer
applies for their point, the HES writes the pair into the simulated meter, the customer sees
the pair once, rotates and stops the service; another customer's application or point is
404, forms need the CSRF token. The city with the HES is the B-route API tests' rig.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from tests.hub.broute_rig import BrouteRig, broute_rig
from tests.web.test_portal import login_form_token, login_token


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrouteRig]:
    with broute_rig(tmp_path_factory.mktemp("portal-broute")) as found:
        yield found


@contextmanager
def _portal(rig: BrouteRig, pos: int) -> Iterator[httpx.Client]:
    """The portal as the customer holding the point at ``pos``, logged in."""
    customer, password = rig.customer(pos)
    with httpx.Client(base_url=str(rig.http.base_url), timeout=10) as client:
        form = client.get("/my/login")
        done = client.post(
            "/my/login",
            data={
                "customer_id": customer,
                "password": password,
                "csrf_token": login_form_token(form.text),
            },
        )
        assert done.status_code == 303, done.text[:300]
        yield client


def _row(page: str, sp: str) -> str:
    found = re.search(rf'<tr data-sp="{sp}" data-status="([a-z]+)"(?: id="app-([^"]+)")?', page)
    assert found is not None, page[:500]
    return f"{found.group(1)} {found.group(2) or ''}".strip()


def test_apply_provision_show_once_rotate_revoke(rig: BrouteRig) -> None:
    pos = 2
    sp = rig.city.supply_point_ids[pos]
    with _portal(rig, pos) as me:
        page = me.get("/my/broute")
        assert page.status_code == 200 and _row(page.text, sp) == "none"
        token = login_token(page.text)
        assert me.post("/my/broute/apply", data={"supply_point_id": sp}).status_code == 403
        done = me.post("/my/broute/apply", data={"supply_point_id": sp, "csrf_token": token})
        assert done.status_code == 303 and done.headers["location"] == "/my/broute?done=applied"
        status, app_id = _row(me.get("/my/broute").text, sp).split()
        assert status == "issued"
        early = me.post(f"/my/broute/{app_id}/credentials", data={"csrf_token": token})
        assert early.status_code == 409 and "E_NOT_PROVISIONED" in early.text
        again = me.post("/my/broute/apply", data={"supply_point_id": sp, "csrf_token": token})
        assert again.status_code == 409 and "E_ALREADY_APPLIED" in again.text
        # the HES writes the pair, reads it back, the hub notifies; the customer keeps using
        # the portal meanwhile (a session idle for 30 minutes ends)
        for _ in range(2):
            rig.run_for(900)
            assert me.get("/my/broute").status_code == 200
        assert _row(me.get("/my/broute").text, sp) == f"notified {app_id}"
        shown = me.post(f"/my/broute/{app_id}/credentials", data={"csrf_token": token})
        assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
        held = rig.city.fleet.broute.of(pos)
        assert held is not None
        assert f'id="rbid">{held.rbid}<' in shown.text
        assert f'id="rb-password">{held.password}<' in shown.text
        twice = me.post(f"/my/broute/{app_id}/credentials", data={"csrf_token": token})
        assert twice.status_code == 409 and "E_ALREADY_SHOWN" in twice.text
        assert held.password not in twice.text

        with _portal(rig, pos + 1) as other:  # another customer: nothing of this point
            theirs = other.get("/my/broute")
            assert sp not in theirs.text
            other_token = login_token(theirs.text)
            for action in ("revoke", "rotate", "credentials"):
                refused = other.post(
                    f"/my/broute/{app_id}/{action}", data={"csrf_token": other_token}
                )
                assert refused.status_code == 404, action
            applied = other.post(
                "/my/broute/apply", data={"supply_point_id": sp, "csrf_token": other_token}
            )
            assert applied.status_code == 404

        rotated = me.post(f"/my/broute/{app_id}/rotate", data={"csrf_token": token})
        assert rotated.status_code == 303
        assert _row(me.get("/my/broute").text, sp) == f"issued {app_id}"
        stopped = me.post(f"/my/broute/{app_id}/revoke", data={"csrf_token": token})
        assert stopped.status_code == 303
        page = me.get("/my/broute?lang=ja")
        assert _row(page.text, sp) == f"revoked {app_id}" and "Bルートサービス" in page.text
        assert 'class="apply"' in page.text  # the point may be applied for again
