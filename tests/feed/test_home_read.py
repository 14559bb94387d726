"""The hot home read's paging and filtering (Lua, ``feed.store.home_read``) against their Python
definition (``feed.selectors._collect`` over ``_redis_home_fetch`` and ``_visible_filter``), on
generated timelines: celebrities pulled, deleted and gone statuses, reblogs of hidden or deleted
ones, reblogs of a status shown twice, every paging parameter."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.redis import get_redis
from core.store import token_cache_key
from feed import entity_json, selectors, store
from feed.oauth import token_checksum
from feed.selectors import PageParams
from feed.services.limits import account_identity
from feed.store import entity_cache, home_read, viewer_state

pytestmark = pytest.mark.django_db

READER = 100
AUTHORS = list(range(1, 7))
TOKEN = "a-home-read-token"
BASE_ID = 253_000_000_000_000_000  # Snowflake-sized: past a double's exact integers


@st.composite
def timelines(draw):
    statuses: list[dict] = []
    for index in range(draw(st.integers(1, 36))):
        posts = [s for s in statuses if s["reblog_of"] is None]
        statuses.append({
            "id": BASE_ID + index * 1_000 + draw(st.integers(0, 999)),
            "author": draw(st.sampled_from(AUTHORS)),
            "reblog_of": draw(st.one_of(st.none(), st.sampled_from(posts))) if posts else None,
            "deleted": draw(st.integers(0, 4)) == 0,
            "gone": draw(st.integers(0, 9)) == 0,  # not in the database (its account was deleted)
        })
    ids = [s["id"] for s in statuses]
    celebrities = draw(st.lists(st.sampled_from(AUTHORS), unique=True, max_size=3))
    in_timeline = [s["id"] for s in statuses if s["author"] not in celebrities and draw(st.booleans())]
    hidden = draw(st.dictionaries(st.sampled_from(AUTHORS), st.integers(0, 2), max_size=3))
    bound = st.one_of(st.none(), st.sampled_from(ids), st.just(0))
    params = PageParams(max_id=draw(bound), since_id=draw(bound), min_id=draw(bound), limit=draw(st.integers(1, 6)))
    # A celebrity's newest post deleted (its recent set no longer holds the id the newest hash
    # names), or the newest hash lost: reads must not miss a post either way.
    newest = draw(st.sampled_from(["kept", "newest deleted", "forgotten"]))
    return statuses, celebrities, in_timeline, hidden, params, newest


def _record(status: dict) -> dict:
    return {"id": status["id"], "account_id": status["author"], "text": "", "in_reply_to_id": None,
            "in_reply_to_account_id": None, "reblog_of_id": status["reblog_of"]["id"] if status["reblog_of"] else None,
            "visibility": "public", "created_at": "2026-12-01T00:00:00+00:00", "deleted": status["deleted"],
            "has_media": False}


def _store(statuses, celebrities, in_timeline, hidden, newest="kept") -> None:
    """The Redis a warm reader has: timeline, celebrities, records with parts and mirrors, authors,
    the reader's state, the token."""
    client = get_redis()
    client.flushdb()
    client.set(token_cache_key(TOKEN), READER)
    client.set(store.oauth_scopes_key(token_checksum(TOKEN)), store.NOT_OAUTH)
    store.timelines_push([READER], [(s, None) for s in in_timeline])
    store.timelines_mark_ready([READER])
    store.activity_touch_due(READER)
    if celebrities:
        store.celebrities_replace(READER, celebrities)
    for author in celebrities:
        theirs = [s["id"] for s in statuses if s["author"] == author][-store.RECENT_MAX:]
        store.recent_fill(author, theirs)
        if newest == "newest deleted" and theirs:
            store.recent_remove(author, [theirs[-1]])
        elif newest == "forgotten":
            client.hdel(store.RECENT_NEWEST_KEY, author)
    entity_cache.statuses_cache([_record(s) for s in statuses if not s["gone"]])
    entity_cache.statuses_cache_gone([s["id"] for s in statuses if s["gone"]])
    store.counters_set("s", {s["id"]: {"favourites_count": 0} for s in statuses})
    store.counters_set("a", {a: {"statuses_count": 1} for a in AUTHORS})
    entity_cache.status_parts_cache({
        s["id"]: ((entity_json.members({"id": str(s["id"])}), b'"mid":0', b'"tail":0'), "") for s in statuses})
    entity_cache.account_heads_cache({a: (entity_json.members({"id": str(a)}), "") for a in AUTHORS})
    assert viewer_state.viewer_fill(READER, "", hidden=hidden, favourites=[], reblogs=[])


def _python_page(celebrities, hidden, params: PageParams) -> list[int]:
    records: dict[int, dict] = {}
    keep = selectors._visible_filter(records, {a for a, count in hidden.items() if count > 0})
    return selectors._collect(selectors._redis_home_fetch(READER, sorted(celebrities)), keep, params)


def _read(params: PageParams) -> list:
    ascending = params.min_id is not None
    lower = params.min_id if ascending else params.since_id
    before, after = home_read.rate_key_parts("api", account_identity, 1)
    return get_redis().eval(
        home_read.script_source(), 2, token_cache_key(TOKEN), store.oauth_scopes_key(token_checksum(TOKEN)),
        10**9, before, after, 360, "" if lower is None else store.member(lower),
        "" if params.max_id is None else store.member(params.max_id), "1" if ascending else "0", params.limit,
        params.limit * 2 + 5, selectors.MAX_BATCHES)


def _script_page(params: PageParams) -> list[int]:
    reply = _read(params)
    assert reply[0] == b"ok", reply
    return [int(status["id"]) for status in json.loads(reply[2])]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=timelines())
def test_the_scripts_pages_are_the_selectors_pages(case):
    statuses, celebrities, in_timeline, hidden, params, newest = case
    _store(statuses, celebrities, in_timeline, hidden, newest)
    assert _script_page(params) == _python_page(celebrities, hidden, params)


def test_a_missing_entity_hands_the_read_over_without_counting_it():
    status = {"id": BASE_ID, "author": 1, "reblog_of": None, "deleted": False, "gone": False}
    _store([status], [], [BASE_ID], {})
    get_redis().hdel(store.status_entity_key(BASE_ID), "head")
    assert _read(PageParams()) == [b"django"]
    before, after = home_read.rate_key_parts("api", account_identity, 1)
    assert get_redis().get(before + str(READER).encode() + after) is None  # Django counts this read, not the script


def test_the_granting_scopes_are_those_feed_scopes_grants_the_home_read_with():
    from feed.api.statuses import HomeTimelineView

    assert HomeTimelineView.scopes["GET"] == home_read.HOME_SCOPE
    assert home_read.granting_scopes() == ["read", "read:statuses"]
