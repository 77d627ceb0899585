"""The JSON data API over real HTTP: isolation between retailers (switch day), values equal
the existing half-hour endpoint, sums, paging, updated-since, final flags, register reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.hub.cityworld import DAY1, DAY2
from tests.hub.test_oauth_flow import Setup, bearer, cc_token, consented, served

from openami.clock import JST, day_first_slot

RANGE = {"from": DAY1.isoformat(), "to": DAY2.isoformat()}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    with served(Path(tmp_path_factory.mktemp("data"))) as s:
        yield s


def _get(s: Setup, token: str, sp: str, what: str, **params: str) -> httpx.Response:
    return s.http.get(
        f"/v1/supply-points/{sp}/{what}", params={**RANGE, **params}, headers=bearer(token)
    )


def _retailer(s: Setup, retailer_id: str) -> str:
    return cc_token(s.http, s.world.secrets[retailer_id])


def test_retailers_see_only_the_days_they_supplied(setup: Setup) -> None:
    s, w = setup, setup.world
    sp = w.switched_sp
    old = _get(s, _retailer(s, w.switch_from), sp, "intervals")
    new = _get(s, _retailer(s, w.switch_to), sp, "intervals")
    assert old.status_code == 200 and new.status_code == 200
    assert {i["slot_start"][:10] for i in old.json()["items"]} == {DAY1.isoformat()}
    assert {i["slot_start"][:10] for i in new.json()["items"]} == {DAY2.isoformat()}
    old_tok = _retailer(s, w.switch_from)
    daily = _get(s, old_tok, sp, "daily").json()["items"]
    assert [d["date"] for d in daily] == [DAY1.isoformat()]
    reads = _get(s, old_tok, sp, "register-reads").json()["items"]
    assert {r["at"][:10] for r in reads} == {DAY1.isoformat()}
    month = {"from": "2026-11", "to": "2026-11"}
    (m_old,) = _get(s, old_tok, sp, "monthly", **month).json()["items"]
    assert m_old["days"] == 1 and m_old["days_visible"] == 1
    assert m_old["import_wh"] == daily[0]["import_wh"]
    (m_new,) = _get(s, _retailer(s, w.switch_to), sp, "monthly", **month).json()["items"]
    assert m_new["days_visible"] == 29  # from the switch day to the end of November
    # asking the new retailer for the old retailer's day only: refused
    resp = _get(s, _retailer(s, w.switch_to), sp, "intervals", to=DAY1.isoformat())
    assert resp.status_code == 403 and resp.json()["code"] == "not_supplied_by_client"
    third = next(r for r in w.secrets if r not in (w.switch_from, w.switch_to))
    for what in ("intervals", "register-reads", "daily", "monthly"):
        params = {"from": "2026-11", "to": "2026-11"} if what == "monthly" else {}
        assert _get(s, _retailer(s, third), sp, what, **params).status_code == 403, what


def test_supply_point_lists_are_disjoint_per_day(setup: Setup) -> None:
    s, w = setup, setup.world
    seen: dict[str, list[tuple[str, str, str]]] = {}
    for retailer in w.secrets:
        resp = s.http.get("/v1/supply-points", params=RANGE, headers=bearer(_retailer(s, retailer)))
        assert resp.status_code == 200
        for item in resp.json()["items"]:
            for p in item["periods"]:
                seen.setdefault(item["supply_point_id"], []).append((retailer, p["from"], p["to"]))
    assert set(seen) == set(w.city.supply_point_ids)
    assert sorted(r for r, _, _ in seen[w.switched_sp]) == sorted([w.switch_from, w.switch_to])
    # every other point has exactly one retailer, and each point is listed by its own only
    for sp, holders in seen.items():
        if sp != w.switched_sp:
            assert len(holders) == 1


def test_values_equal_the_half_hour_endpoint_and_sums_add_up(setup: Setup) -> None:
    s, w = setup, setup.world
    sp = w.city.supply_point_ids[5]
    key = w.city.supply_point_keys[5]
    tok = _retailer(s, str(w.registry.retailer_on(key, DAY1)))
    items = _get(s, tok, sp, "intervals").json()["items"]
    assert len(items) == 96
    old = s.http.get(
        f"/v1/supply-points/{sp}/half-hour-values",
        params={"date": DAY1.isoformat()},
        headers=bearer(tok),
    ).json()["slots"]
    assert [(v["slot_start"], v["import_wh"], v["export_wh"], v["quality"]) for v in old] == [
        (v["slot_start"], v["import_wh"], v["export_wh"], v["quality"]) for v in items[:48]
    ]
    assert all(v["final"] is False and v["version"] >= 1 for v in items)
    daily = _get(s, tok, sp, "daily").json()["items"]
    assert [d["date"] for d in daily] == [DAY1.isoformat(), DAY2.isoformat()]
    for d, chunk in zip(daily, (items[:48], items[48:]), strict=True):
        assert d["import_wh"] == sum(v["import_wh"] or 0 for v in chunk)
        assert d["slots_with_values"] == sum(v["import_wh"] is not None for v in chunk)
        assert d["final"] is False
    monthly = _get(s, tok, sp, "monthly", **{"from": "2026-11", "to": "2026-11"}).json()
    (month,) = monthly["items"]
    month_days = _get(s, tok, sp, "daily", to="2026-11-30").json()["items"]
    assert len(month_days) == 3  # DAY1, DAY2 and the first hour of the day after
    assert month["month"] == "2026-11" and month["days"] == 3 and month["days_visible"] == 30
    assert month["import_wh"] == sum(d["import_wh"] for d in month_days)
    assert month["quality"] == "incomplete" and month["final"] is False


def test_paging_returns_every_value_once(setup: Setup) -> None:
    s, w = setup, setup.world
    sp, key = w.city.supply_point_ids[4], w.city.supply_point_keys[4]
    tok = _retailer(s, str(w.registry.retailer_on(key, DAY1)))
    whole = _get(s, tok, sp, "intervals").json()
    got: list[dict] = []
    url: str | None = f"/v1/supply-points/{sp}/intervals"
    params: dict[str, str] | None = {**RANGE, "limit": "10"}
    pages = 0
    while url:
        page = s.http.get(url, params=params, headers=bearer(tok)).json()
        assert page["total"] == 96
        got += page["items"]
        url, params = page["next"], None
        pages += 1
    assert pages == 10 and got == whole["items"]


def test_updated_since_and_final(setup: Setup) -> None:
    s, w = setup, setup.world
    sp, key = w.city.supply_point_ids[6], w.city.supply_point_keys[6]
    tok = _retailer(s, str(w.registry.retailer_on(key, DAY1)))
    before = _get(s, tok, sp, "intervals").json()["items"]
    latest = max(datetime.fromisoformat(v["updated_at"]) for v in before)
    assert (
        _get(s, tok, sp, "intervals", **{"updated-since": latest.isoformat()}).json()["items"] == []
    )
    w.clock.advance(60)
    slot = day_first_slot(DAY1) + 20
    w.context.mdms.edit(key, [slot], [1234], [0], "operator", "meter test")
    changed = _get(s, tok, sp, "intervals", **{"updated-since": latest.isoformat()}).json()
    assert changed["total"] == 1
    (v,) = changed["items"]
    assert v["import_wh"] == 1234 and v["quality"] == "edited" and v["version"] >= 2
    assert datetime.fromisoformat(v["slot_start"]).astimezone(JST).hour == 10
    days = _get(s, tok, sp, "daily", **{"updated-since": latest.isoformat()}).json()["items"]
    assert [d["date"] for d in days] == [DAY1.isoformat()] and days[0]["quality"] == "edited"
    # declaring DAY1 final flags its values and its daily sum
    w.context.mdms.finalize(day_first_slot(DAY1), day_first_slot(DAY2) - 1, "operator")
    items = _get(s, tok, sp, "intervals").json()["items"]
    assert all(v["final"] for v in items[:48]) and not any(v["final"] for v in items[48:])
    daily = _get(s, tok, sp, "daily").json()["items"]
    assert [d["final"] for d in daily] == [True, False]


def test_register_reads_match_the_half_hour_values(setup: Setup) -> None:
    s, w = setup, setup.world
    sp, key = w.city.supply_point_ids[7], w.city.supply_point_keys[7]
    tok = _retailer(s, str(w.registry.retailer_on(key, DAY1)))
    reads = _get(s, tok, sp, "register-reads", to=DAY1.isoformat()).json()["items"]
    values = _get(s, tok, sp, "intervals", to=DAY1.isoformat()).json()["items"]
    assert len(reads) == 48 and reads[0]["at"].startswith(f"{DAY1}T00:00")
    by_at = {r["at"]: r for r in reads}
    checked = 0
    for a, b, v in zip(reads, reads[1:], values, strict=False):
        assert v["slot_start"] == a["at"] and a["at"] in by_at
        if v["quality"] == "measured":
            assert v["import_wh"] == b["import_register_wh"] - a["import_register_wh"]
            checked += 1
    assert checked >= 40
    assert {r["quality"] for r in reads} == {"measured"} and all(r["updated_at"] for r in reads)


def test_third_party_sees_what_the_consent_covers(setup: Setup) -> None:
    s, w = setup, setup.world
    _, tok = consented(s)
    sp = s.customer_points[0]
    key = w.city.supply_point_keys[w.city.supply_point_ids.index(sp)]
    retailer_items = _get(s, _retailer(s, str(w.registry.retailer_on(key, DAY1))), sp, "intervals")
    mine = _get(s, tok["access_token"], sp, "intervals")
    assert mine.status_code == 200
    assert mine.json()["items"] == retailer_items.json()["items"]
    listed = s.http.get("/v1/supply-points", headers=bearer(tok["access_token"])).json()
    assert sorted(i["supply_point_id"] for i in listed["items"]) == sorted(s.customer_points)
    # the audit log names the consent as the purpose of the read
    assert w.context.audit is not None
    reads = [e for e in w.context.audit.entries() if e.kind == "read" and e.subject == sp]
    assert any(e.purpose.startswith("consent ") and e.actor == s.tp[0] for e in reads)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"from": "2026-11-05", "to": "2026-11-01"}, 400),
        ({"from": "2024-01-01", "to": "2026-11-01"}, 400),
        ({"from": "1999-12-31"}, 400),
        ({"updated-since": "yesterday"}, 422),
        ({"limit": "0"}, 422),
    ],
)
def test_bad_ranges(setup: Setup, params: dict[str, str], status: int) -> None:
    s, w = setup, setup.world
    tok = _retailer(s, w.switch_from)
    resp = s.http.get(
        f"/v1/supply-points/{w.switched_sp}/intervals", params=params, headers=bearer(tok)
    )
    assert resp.status_code == status and "code" in resp.json()


def _one_day(s: Setup, token: str, sp: str, day: str) -> httpx.Response:
    return s.http.get(
        f"/v1/supply-points/{sp}/half-hour-values", params={"date": day}, headers=bearer(token)
    )


def test_half_hour_values_is_an_alias_of_intervals_with_the_same_access(setup: Setup) -> None:
    s, w = setup, setup.world
    sp = w.switched_sp
    old, new = _retailer(s, w.switch_from), _retailer(s, w.switch_to)
    third = _retailer(s, next(r for r in w.secrets if r not in (w.switch_from, w.switch_to)))
    day3 = (DAY2 + timedelta(days=1)).isoformat()  # the clock stands at its 01:00
    for token, day, status in (
        (old, DAY1.isoformat(), 200),
        (old, DAY2.isoformat(), 403),  # switched away: the same cut as /intervals
        (new, DAY1.isoformat(), 403),
        (new, DAY2.isoformat(), 200),
        (new, day3, 200),
        (third, DAY1.isoformat(), 403),
    ):
        one = _one_day(s, token, sp, day)
        same = _get(s, token, sp, "intervals", **{"from": day, "to": day})
        assert one.status_code == same.status_code == status, (day, one.text)
        if status != 200:
            assert one.json()["code"] == same.json()["code"] == "not_supplied_by_client"
            continue
        slots = one.json()["slots"]
        items = {i["slot_start"]: i for i in same.json()["items"]}
        assert len(slots) == 48 and one.json()["date"] == day
        for slot in slots:  # every value of /intervals, the rest not yet available
            item = items.pop(slot["slot_start"], None)
            if item is None:
                assert (slot["quality"], slot["import_wh"]) == ("not_yet_available", None)
            else:
                assert (slot["import_wh"], slot["export_wh"], slot["quality"]) == (
                    item["import_wh"],
                    item["export_wh"],
                    item["quality"],
                )
        assert items == {}
    partial = _one_day(s, new, sp, day3).json()["slots"]
    assert 0 < sum(v["quality"] != "not_yet_available" for v in partial) < 48
    # a third party reads it under a live consent, like /intervals
    _, tok = consented(s)
    mine = s.customer_points[0]
    tp = _one_day(s, tok["access_token"], mine, DAY1.isoformat())
    assert tp.status_code == 200
    key = w.city.supply_point_keys[w.city.supply_point_ids.index(mine)]
    owner = _retailer(s, str(w.registry.retailer_on(key, DAY1)))
    assert tp.json() == _one_day(s, owner, mine, DAY1.isoformat()).json()
    assert _one_day(s, tok["access_token"], sp, DAY1.isoformat()).status_code == 403
