"""Anonymous floods cost the audit log a bounded amount and no credential lookups once an
address keeps failing (issue #15 §3)."""

from __future__ import annotations

import json

from tests.hub.hubrig import SECRET, hub_rig

from openami.hub.ratelimit import RateLimiter

URL = "/v1/supply-points/0300000000000000000110/half-hour-values?date=2026-11-01"
NO_LIMITS = RateLimiter(anonymous_rate_per_s=1000.0, anonymous_burst=100_000.0)


def test_a_flood_writes_one_sample_and_one_summary_per_window() -> None:
    with hub_rig(rate_limits=NO_LIMITS) as rig:
        for i in range(300):
            headers = {"Authorization": f"Bearer forged-{i}"} if i % 2 else {}
            assert rig.http.get(URL, headers=headers).status_code == 401
        assert len(rig.audit_entries()) == 1  # the sample, not 300 rows
        rig.clock.advance(61)  # the window is over: the next anonymous request summarises
        assert rig.http.get(URL).status_code == 401
        entries = rig.audit_entries()
    sample, summary, next_sample = entries
    assert json.loads(sample.detail)["sampled"] is True and sample.actor == "anonymous"
    detail = json.loads(summary.detail)
    assert summary.kind == "request-summary" and detail["total"] == 300
    assert detail["routes"] == [
        ["GET /v1/supply-points/{supply_point_id}/half-hour-values", 401, 300]
    ]
    assert detail["busiest"] == [["127.0.0.1", 300]]
    assert json.loads(next_sample.detail)["sampled"] is True


def test_authenticated_requests_are_still_logged_one_by_one() -> None:
    with hub_rig() as rig:
        for _ in range(3):
            token = rig.http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=("r1", SECRET)
            ).json()["access_token"]
            rig.http.get(URL, headers={"Authorization": f"Bearer {token}"})
        entries = rig.audit_entries()
    assert [e.actor for e in entries] == ["r1"] * 6  # 3 tokens, 3 reads


def test_an_address_that_keeps_failing_is_refused_before_any_lookup() -> None:
    limits = RateLimiter(anonymous_rate_per_s=0.1, anonymous_burst=20)
    with hub_rig(rate_limits=limits) as rig:
        lookups = []
        real = rig.context.clients.client_and_expiry

        def counted(token: str, now_s: float):  # type: ignore[no-untyped-def]
            lookups.append(token)
            return real(token, now_s)

        rig.context.clients.client_and_expiry = counted  # type: ignore[method-assign]
        codes = [
            rig.http.get(URL, headers={"Authorization": f"Bearer forged-{i}"}).status_code
            for i in range(100)
        ]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}
    assert len(lookups) == 20  # the other 80 cost no token lookup
