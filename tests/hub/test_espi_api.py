"""Green Button ESPI on the C route, over real HTTP against a small simulated city.

What is proven: the feeds validate against espi.xsd; openami's own reader gets back exactly
the half-hour values the JSON API serves; the link graph follows GBA FB_04 (unique self
hrefs that resolve, one ReadingType per MeterReading, blocks unique by start); a retailer
sees only the days it supplies; ids do not expose supply point IDs; the published/updated
and paging parameters work.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from tests.httpserver import serve
from tests.hub.cityworld import DAY1, DAY2, ESPI, World, build_world
from tests.protocols.espi.xsd import xsd_errors

from openami.clock import JST
from openami.protocols.espi import (
    Feed,
    IntervalBlock,
    MeterReading,
    ReadingType,
    UsagePoint,
    jp,
    read_entry,
    read_feed,
    read_service_status,
)
from openami.web.app import create_app

PERIOD = {"published-min": "2026-10-31T15:00:00Z", "published-max": "2026-11-02T15:00:00Z"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("espi"))


@pytest.fixture(scope="module")
def http(world: World) -> Iterator[httpx.Client]:
    with serve(create_app(world.context)) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c


def _get(http: httpx.Client, tok: str, path: str, **params: str) -> httpx.Response:
    return http.get(path, params=params or None, headers={"Authorization": f"Bearer {tok}"})


def _feed(http: httpx.Client, tok: str, path: str, **params: str) -> Feed:
    resp = _get(http, tok, path, **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/atom+xml")
    assert xsd_errors(resp.content) == []
    return read_feed(resp.content)


def _json_day(http: httpx.Client, tok: str, sp: str, day: str) -> list[dict[str, object]]:
    resp = _get(http, tok, f"/v1/supply-points/{sp}/half-hour-values", date=day)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["slots"])


def test_subscription_feed_is_valid_and_matches_the_json_api(
    world: World, http: httpx.Client
) -> None:
    retailer = world.switch_to
    tok = world.token(http, retailer)
    feed = _feed(http, tok, f"{ESPI}/Batch/Subscription/{world.client_of(retailer)}", **PERIOD)

    ups = [e for e in feed.entries if isinstance(e.resource, UsagePoint)]
    names = {e.resource.service_delivery_point_name: e for e in ups}  # type: ignore[union-attr]
    expected = {
        sp
        for key, sp in zip(world.city.supply_point_keys, world.city.supply_point_ids, strict=True)
        if world.registry.retailer_on(key, DAY1) == retailer
        or world.registry.retailer_on(key, DAY2) == retailer
    }
    assert set(names) == expected and world.switched_sp in names
    meters = world.registry.meters_table().to_pydict()
    amps = dict(zip(meters["supply_point_key"], meters["contract_amperage_a"], strict=True))
    for key, sp in zip(world.city.supply_point_keys, world.city.supply_point_ids, strict=True):
        if sp in names:
            assert names[sp].resource.rated_current_a == amps[key]  # type: ignore[union-attr]

    # FB_04-style graph checks
    selfs = [e.link("self") for e in feed.entries]
    assert len(selfs) == len(set(selfs)) and None not in selfs
    by_self = {e.link("self"): e for e in feed.entries}
    rts = [e for e in feed.entries if isinstance(e.resource, ReadingType)]
    assert {rt.resource.interval_length_s for rt in rts} == {1800}  # type: ignore[union-attr]
    assert {rt.resource.uom for rt in rts} == {72}  # type: ignore[union-attr]
    for e in feed.entries:
        if isinstance(e.resource, MeterReading):
            related_rts = [h for h in e.related() if "/ReadingType/" in h]
            assert len(related_rts) == 1 and isinstance(
                by_self[related_rts[0]].resource, ReadingType
            )
            assert e.link("up").rsplit("/", 1)[0] in by_self  # type: ignore[union-attr]
    blocks = [e for e in feed.entries if isinstance(e.resource, IntervalBlock)]
    assert all(e.published <= e.updated for e in blocks)

    # every value equals the JSON API's, for a point supplied both days
    sp = next(iter(expected - {world.switched_sp}))
    up_self = names[sp].link("self")
    assert up_self is not None and sp not in up_self
    for direction in jp.DIRECTIONS:
        mr = next(
            e
            for e in feed.entries
            if isinstance(e.resource, MeterReading)
            and e.link("self").startswith(up_self)  # type: ignore[union-attr]
            and e.title.startswith(f"30-minute {direction}")
        )
        mine = [e for e in blocks if e.link("self").startswith(mr.link("self"))]  # type: ignore[union-attr, arg-type]
        assert len(mine) == 2
        for day, entry in zip((DAY1, DAY2), mine, strict=True):
            block = entry.resource
            assert isinstance(block, IntervalBlock)
            assert block.start_s == int(datetime.combine(day, datetime.min.time(), JST).timestamp())
            got = jp.block_values(block)
            slots = _json_day(http, tok, sp, day.isoformat())
            want = [
                (
                    int(datetime.fromisoformat(str(s["slot_start"])).timestamp()),
                    s[f"{direction}_wh"],
                )
                for s in slots
                if s["quality"] not in jp.GAP_QUALITIES
            ]
            assert [(v.start_s, v.value_wh) for v in got] == want
            assert len(want) == 48


def test_switched_point_is_visible_only_on_supplied_days(world: World, http: httpx.Client) -> None:
    old_tok = world.token(http, world.switch_from)
    new_tok = world.token(http, world.switch_to)
    feeds = {
        r: _feed(http, t, f"{ESPI}/Batch/Subscription/{world.client_of(r)}", **PERIOD)
        for r, t in ((world.switch_from, old_tok), (world.switch_to, new_tok))
    }
    days = {}
    for retailer, feed in feeds.items():
        up = next(
            e
            for e in feed.entries
            if isinstance(e.resource, UsagePoint)
            and e.resource.service_delivery_point_name == world.switched_sp
        )
        up_self = up.link("self")
        assert up_self is not None
        days[retailer] = sorted(
            {
                datetime.fromtimestamp(e.resource.start_s, JST).date()
                for e in feed.entries
                if isinstance(e.resource, IntervalBlock) and e.link("self").startswith(up_self)  # type: ignore[union-attr]
            }
        )
    assert days == {world.switch_from: [DAY1], world.switch_to: [DAY2]}

    # the single-UsagePoint forms follow the same rule
    up_id = jp.opaque_uuid(b"test-key-not-a-secret-0123456789", "UsagePoint", world.switched_sp)
    sub_old = world.client_of(world.switch_from)
    path = f"{ESPI}/Batch/Subscription/{sub_old}/UsagePoint/{up_id}"
    later = {
        "published-min": "2026-11-02T00:00:00+09:00",
        "published-max": "2026-11-03T00:00:00+09:00",
    }
    denied = _get(http, old_tok, path, **later)
    assert denied.status_code == 403 and denied.json()["code"] == "not_supplied_by_client"
    ok = _feed(http, old_tok, path, **PERIOD)
    assert sum(isinstance(e.resource, IntervalBlock) for e in ok.entries) == 2  # DAY1 × 2 dirs
    # a subscription that is not the client's own
    other = _get(http, old_tok, f"{ESPI}/Batch/Subscription/{world.client_of(world.switch_to)}")
    assert other.status_code == 403 and other.json()["code"] == "not_your_subscription"
    unknown = _get(http, old_tok, f"{ESPI}/Batch/Subscription/{sub_old}/UsagePoint/nope")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_usage_point"


def test_every_self_link_resolves(world: World, http: httpx.Client) -> None:
    retailer = world.switch_from
    tok = world.token(http, retailer)
    sub = world.client_of(retailer)
    feed = _feed(http, tok, f"{ESPI}/Batch/Subscription/{sub}", **PERIOD, **{"max-results": "1"})
    assert sum(isinstance(e.resource, UsagePoint) for e in feed.entries) == 1
    for entry in feed.entries:
        href = entry.link("self")
        assert href is not None
        resp = _get(http, tok, href, **PERIOD)
        assert resp.status_code == 200, (href, resp.text)
        assert xsd_errors(resp.content) == []
        got = read_entry(resp.content)
        assert (got.id, got.links, got.resource) == (entry.id, entry.links, entry.resource)
        if isinstance(entry.resource, IntervalBlock):
            assert got == entry  # published/updated come from the data, not from "now"
        up = entry.link("up")
        assert up is not None
        coll = _get(http, tok, up, **PERIOD)
        assert coll.status_code == 200, (up, coll.text)
        assert xsd_errors(coll.content) == []
        assert href in {e.link("self") for e in read_feed(coll.content).entries}
    status = _get(http, tok, f"{ESPI}/ReadServiceStatus")
    assert status.status_code == 200 and read_service_status(status.content).current_status == 1


def test_paging_bulk_and_updated_filter(world: World, http: httpx.Client) -> None:
    retailer = world.switch_to
    tok = world.token(http, retailer)
    sub = world.client_of(retailer)
    whole = _feed(http, tok, f"{ESPI}/Batch/Bulk/{sub}", **PERIOD)
    all_ups = [e.link("self") for e in whole.entries if isinstance(e.resource, UsagePoint)]
    assert len(all_ups) >= 3 and whole.link("next") is None
    paged: list[str | None] = []
    params: dict[str, str] = {**PERIOD, "max-results": "2"}
    url: str | None = f"{ESPI}/Batch/Bulk/{sub}"
    while url is not None:
        page = _feed(http, tok, url, **params)
        paged += [e.link("self") for e in page.entries if isinstance(e.resource, UsagePoint)]
        url, params = page.link("next"), {}
    assert paged == all_ups

    # everything of DAY2 was last recorded before "now"; nothing after it
    now = world.clock.now()
    newer = _feed(
        http, tok, f"{ESPI}/Batch/Bulk/{sub}", **PERIOD, **{"updated-min": now.isoformat()}
    )
    assert not any(isinstance(e.resource, (UsagePoint, IntervalBlock)) for e in newer.entries)
    day2_end = datetime.combine(DAY2 + timedelta(days=1), datetime.min.time(), JST)
    recent = _feed(
        http, tok, f"{ESPI}/Batch/Bulk/{sub}", **PERIOD, **{"updated-min": day2_end.isoformat()}
    )
    recent_blocks = [e for e in recent.entries if isinstance(e.resource, IntervalBlock)]
    assert recent_blocks and all(e.updated >= day2_end for e in recent_blocks)
    assert all(
        datetime.fromtimestamp(e.resource.start_s, JST).date() == DAY2  # type: ignore[union-attr]
        for e in recent_blocks
    )


def test_bad_parameters_and_auth(world: World, http: httpx.Client) -> None:
    tok = world.token(http, world.switch_to)
    sub = world.client_of(world.switch_to)
    path = f"{ESPI}/Batch/Subscription/{sub}"
    assert http.get(path).status_code == 401
    assert _get(http, "wrong", path).status_code == 401
    long = _get(http, tok, path, **{"published-min": "2026-01-01T00:00:00Z"})
    assert long.status_code == 400 and long.json()["code"] == "period_too_long"
    backwards = _get(
        http,
        tok,
        path,
        **{"published-min": PERIOD["published-max"], "published-max": PERIOD["published-min"]},
    )
    assert backwards.status_code == 400 and backwards.json()["code"] == "invalid_period"
    assert _get(http, tok, path, **{"published-min": "yesterday"}).status_code == 422
    for name in ("published-min", "published-max", "updated-min", "updated-max"):
        for extreme in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
            resp = _get(http, tok, path, **{name: extreme})
            assert resp.status_code == 400 and resp.json()["code"] == "invalid_period"
    assert _get(http, tok, path, **{"max-results": "0"}).status_code == 422


def test_ids_do_not_expose_supply_point_ids(
    world: World, http: httpx.Client, tmp_path: Path
) -> None:
    tok = world.token(http, world.switch_to)
    resp = _get(
        http, tok, f"{ESPI}/Batch/Subscription/{world.client_of(world.switch_to)}", **PERIOD
    )
    feed = read_feed(resp.content)
    hrefs = " ".join(link.href for e in feed.entries for link in e.links)
    ids = " ".join(e.id for e in feed.entries)
    for sp in world.city.supply_point_ids:
        assert sp not in hrefs and sp not in ids
        assert sp[-10:] not in hrefs
