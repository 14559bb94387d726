"""The home timeline on the hot path: the same bytes as the DRF view, the same token check,
and Django answering everything unusual."""

import json

import pytest
from asgiref.sync import sync_to_async
from hypothesis import given
from hypothesis import strategies as st

from config.asgi import application
from core.services import token_for, token_rotate
from feed import hot
from tests.feed.helpers import activate, follow, make_inactive, post
from tests.fixtures.asgi import asgi_call, http_scope

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED_HEADERS = (b"content-type", b"link", b"vary", b"allow", b"x-frame-options", b"x-content-type-options",
                    b"content-security-policy", b"referrer-policy", b"cross-origin-opener-policy", b"www-authenticate")


def _scope(path: str, query: bytes, headers: list) -> dict:
    return http_scope(path, query=query, headers=headers)


_call = asgi_call


async def hot_answer(key: str, query: bytes = b"", headers: list | None = None):
    scope = _scope(hot.HOME_PATH, query, [(b"authorization", f"Bearer {key}".encode()), *(headers or [])])
    return await _call(hot.handle_home, scope)


async def django_answer(key: str, query: bytes = b"", headers: list | None = None):
    # The application behind the hot-path router: Django's full request cycle and the DRF view.
    scope = _scope(hot.HOME_PATH, query, [(b"authorization", f"Bearer {key}".encode()), *(headers or [])])
    return await _call(application.app, scope)


@pytest.fixture
def timeline(alice, bob, carol, as_user):
    """alice (active) follows bob and carol, who posted, reblogged (not shown twice) and replied; returns alice's key."""
    a, b, c = as_user(alice), as_user(bob), as_user(carol)
    activate(a)
    activate(a)  # the second read finds the timeline ready and the activity touched
    follow(a, bob)
    follow(a, carol)
    first = post(b, "hello @alice #news https://example.com/x")["id"]
    post(c, "Grüße — ünïcode ✓ <b>escaped</b>")
    c.post(f"/api/v1/statuses/{first}/reblog")
    post(c, "a reply", in_reply_to_id=first)
    a.post(f"/api/v1/statuses/{first}/favourite")
    for i in range(4):
        post(b, f"more {i}")
    activate(a)  # the favourite dropped alice's state in Redis: a read through Django rebuilds it
    return token_for(alice).key


def _same(hot_result, django_result) -> None:
    returned, status, headers, body = hot_result
    _, django_status, django_headers, django_body = django_result
    assert returned == status == django_status
    assert body == django_body
    for name in COMPARED_HEADERS:
        assert headers.get(name) == django_headers.get(name), name


async def test_the_hot_answer_is_byte_for_byte_the_views(timeline):
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 200  # answered on the hot path, not handed over
    django_result = await django_answer(timeline)
    _same(hot_result, django_result)
    statuses = json.loads(hot_result[3])
    assert len(statuses) == 7 and statuses[-1]["content"].startswith("<p>hello")
    assert statuses[0]["favourited"] is False and any(s["favourited"] for s in statuses)
    assert b'rel="next"' in hot_result[2][b"link"] and b'rel="prev"' in hot_result[2][b"link"]


@pytest.mark.parametrize("query", [b"limit=3", b"limit=100", b"limit=2&max_id={mid}", b"since_id={mid}",
                                   b"min_id={mid}&limit=2", b"max_id={mid}&min_id=1"])
async def test_paged_answers_and_link_headers_match_the_view(timeline, query):
    everything = json.loads((await django_answer(timeline))[3])
    query = query.replace(b"{mid}", everything[4]["id"].encode())
    hot_result = await hot_answer(timeline, query)
    assert hot_result[0] == 200
    _same(hot_result, await django_answer(timeline, query))
    assert hot_result[2][b"link"].count(b"testserver/api/v1/timelines/home?") == 2


@pytest.fixture
def lonely_reader(alice, as_user):
    """alice, active, following nobody; returns her key."""
    client = as_user(alice)
    activate(client)
    activate(client)
    return token_for(alice).key


async def test_an_empty_page_matches_the_view_without_a_link(lonely_reader):
    hot_result = await hot_answer(lonely_reader)
    assert hot_result[0] == 200 and hot_result[3] == b"[]" and b"link" not in hot_result[2]
    _same(hot_result, await django_answer(lonely_reader))


async def test_a_revoked_token_is_refused_at_once_on_the_hot_path(timeline, alice):
    assert (await hot_answer(timeline))[0] == 200
    await sync_to_async(token_rotate)(user=alice)
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == hot_result[1] == 401
    assert json.loads(hot_result[3]) == {"error": "Invalid token.", "code": "authentication_failed"}
    _same(hot_result, await django_answer(timeline))


async def test_an_unknown_token_gets_the_views_401(db):
    hot_result = await hot_answer("not-a-token")
    assert hot_result[0] == 401
    _same(hot_result, await django_answer("not-a-token"))


def _staff_edit(user, **fields) -> None:
    """Staff's edit of ``user`` in the admin (the product's way to deactivate or rename an account)."""
    from django.test import Client

    staff = Client()
    staff.force_login(type(user).objects.create_user("root", password="correct-horse-battery", is_staff=True,
                                                     is_superuser=True))
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", **fields}
    response = staff.post(f"/admin/auth/user/{user.pk}/change/", {k: v for k, v in data.items() if v is not None})
    assert response.status_code == 302, response.content


async def test_a_reader_deactivated_by_staff_is_refused_at_once(timeline, alice):
    assert (await hot_answer(timeline))[0] == 200  # the token is cached now
    await sync_to_async(_staff_edit)(alice, is_active=None)
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 401
    _same(hot_result, await django_answer(timeline))


async def test_a_reader_deactivated_by_a_bulk_update_is_refused_once_the_token_cache_forgets(timeline, alice):
    from core.redis import get_redis
    from core.store import token_cache_key

    assert (await hot_answer(timeline))[0] == 200  # the token is cached now
    await type(alice).objects.filter(id=alice.id).aupdate(is_active=False)
    # The hot path trusts the token cache (TOKEN_CACHE_TTL); past it, the token no longer resolves.
    await sync_to_async(get_redis().delete)(token_cache_key(timeline))
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 401
    _same(hot_result, await django_answer(timeline))


async def test_an_author_renamed_by_staff_shows_the_new_name_on_both_paths(timeline, bob):
    before = json.loads((await hot_answer(timeline))[3])
    assert {s["account"]["display_name"] for s in before if s["account"]["username"] == "bob"} == {"bob"}
    await sync_to_async(_staff_edit)(bob, username="robert", first_name="Robert", last_name="Smith")
    hot_result = await hot_answer(timeline)
    assert hot_result[0] is None  # his entities were dropped: the view renders them again
    django_result = await django_answer(timeline)
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 200
    _same(hot_result, django_result)
    after = json.loads(hot_result[3])
    renamed = [s for s in after if s["account"]["id"] == str(bob.id)]
    assert renamed and {s["account"]["display_name"] for s in renamed} == {"Robert Smith"}
    assert all(s["url"].endswith(f"/@robert/{s['id']}") for s in renamed if s["reblog"] is None)


@pytest.mark.parametrize(("query", "headers"), [
    (b"limit=abc", []),  # Django's 400 names the field
    (b"max_id=-1", []),
    (b"limit=2&limit=3", []),
    (b"exclude_replies=1", []),
    (b"limit=%C3%A9", []),
    (b"", [(b"accept", b"text/html")]),  # DRF's browsable API
    (b"", [(b"accept", b"application/json; indent=4")]),
    (b"", [(b"cookie", b"sessionid=abc")]),
])
async def test_unusual_requests_are_handed_to_django(timeline, query, headers):
    returned, status, _, _ = await hot_answer(timeline, query, headers)
    assert returned is None and status is None


async def test_a_bad_parameter_is_djangos_400_through_the_application(timeline):
    scope = _scope(hot.HOME_PATH, b"limit=abc", [(b"authorization", f"Bearer {timeline}".encode())])
    _, status, _, body = await _call(application, scope)
    assert status == 400 and json.loads(body)["fields"] == {"limit": ["Must be an integer."]}


async def test_a_timeline_being_rebuilt_is_left_to_django_and_its_206(timeline, alice):
    await sync_to_async(make_inactive)(alice)
    returned, status, _, _ = await hot_answer(timeline)
    assert returned is None and status is None
    _, status, _, body = await _call(application, _scope(hot.HOME_PATH, b"",
                                                         [(b"authorization", f"Bearer {timeline}".encode())]))
    assert status == 206 and len(json.loads(body)) == 7
    # The rebuild ran (eagerly here); once Django has recorded the reader's activity (the next
    # read), reads are the hot path's again.
    assert (await hot_answer(timeline))[0] is None
    await _call(application, _scope(hot.HOME_PATH, b"", [(b"authorization", f"Bearer {timeline}".encode())]))
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 200
    _same(hot_result, await django_answer(timeline))


async def test_a_reader_due_for_an_activity_touch_is_left_to_django(timeline, alice):
    from core.redis import get_redis
    from feed import store

    await sync_to_async(get_redis().delete)(store.activity_key(alice.id))
    assert (await hot_answer(timeline))[0] is None
    _, status, _, _ = await _call(application, _scope(hot.HOME_PATH, b"",
                                                      [(b"authorization", f"Bearer {timeline}".encode())]))
    assert status == 200
    assert (await hot_answer(timeline))[0] == 200  # Django touched it


async def test_a_new_post_and_a_delete_show_on_the_hot_path_at_once(timeline, bob, as_user):
    b = await sync_to_async(as_user)(bob)
    new = (await sync_to_async(post)(b, "just now"))["id"]
    statuses = json.loads((await hot_answer(timeline))[3])
    assert statuses[0]["id"] == new
    await sync_to_async(b.delete)(f"/api/v1/statuses/{new}")
    statuses = json.loads((await hot_answer(timeline))[3])
    assert new not in [s["id"] for s in statuses]


async def test_the_application_answers_home_reads_from_the_hot_handler(timeline, monkeypatch):
    """Registered in HOT_PATH_HANDLERS: the application's answer is the hot handler's."""
    answered = []
    original = hot._home

    async def spy(*args):
        answer = await original(*args)
        answered.append(answer[0])
        return answer

    monkeypatch.setattr(hot, "_home", spy)
    scope = _scope(hot.HOME_PATH, b"", [(b"authorization", f"Bearer {timeline}".encode())])
    _, status, _, body = await _call(application, scope)
    assert status == 200 and len(json.loads(body)) == 7
    assert answered == [200]


# --- rate limits and OAuth tokens, as the view ------------------------------------------------
LIMIT_HEADERS = (b"x-ratelimit-limit", b"x-ratelimit-remaining", b"x-ratelimit-reset")


async def test_the_hot_path_counts_against_the_api_rate_limit_with_its_headers(timeline):
    hot_result = await hot_answer(timeline)
    django_result = await django_answer(timeline)
    hot_headers, django_headers = hot_result[2], django_result[2]
    assert all(name in hot_headers for name in LIMIT_HEADERS)
    assert hot_headers[b"x-ratelimit-limit"] == django_headers[b"x-ratelimit-limit"]
    assert hot_headers[b"x-ratelimit-reset"] == django_headers[b"x-ratelimit-reset"]
    # One window shared by both paths: the view's request came second.
    assert int(hot_headers[b"x-ratelimit-remaining"]) == int(django_headers[b"x-ratelimit-remaining"]) + 1


async def test_past_the_limit_the_hot_path_answers_the_views_429(timeline, settings):
    first = await hot_answer(timeline)
    used = int(first[2][b"x-ratelimit-limit"]) - int(first[2][b"x-ratelimit-remaining"])
    settings.FEED_API_PER_5MIN = used + 1
    assert (await hot_answer(timeline))[0] == 200
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 429
    assert b"retry-after" in hot_result[2] and hot_result[2][b"x-ratelimit-remaining"] == b"0"
    django_result = await django_answer(timeline)
    _same(hot_result, django_result)
    for name in (b"retry-after", *LIMIT_HEADERS):
        assert hot_result[2][name] == django_result[2][name], name


@pytest.fixture
def oauth_app(timeline):
    from tests.feed.oauth_helpers import register_app

    return register_app("read write")


@pytest.fixture
def read_token(oauth_app, alice):
    from tests.feed.oauth_helpers import user_token

    return user_token(alice, scope="read", app=oauth_app)


@pytest.fixture
def write_token(oauth_app, alice):
    from tests.feed.oauth_helpers import user_token

    return user_token(alice, scope="write", app=oauth_app)


async def test_an_oauth_token_reads_on_the_hot_path_and_dies_at_once_when_revoked(read_token, oauth_app):
    from rest_framework.test import APIClient

    hot_result = await hot_answer(read_token)
    assert hot_result[0] == 200 and len(json.loads(hot_result[3])) == 7
    _same(hot_result, await django_answer(read_token))

    response = await sync_to_async(APIClient().post)("/oauth/revoke", {
        "token": read_token, "client_id": oauth_app["client_id"], "client_secret": oauth_app["client_secret"]})
    assert response.status_code == 200
    hot_result = await hot_answer(read_token)
    assert hot_result[0] == 401
    _same(hot_result, await django_answer(read_token))


async def test_an_oauth_token_without_the_read_scope_is_left_to_the_views_403(write_token):
    returned, status, _, _ = await hot_answer(write_token)
    assert returned is None and status is None
    _, status, _, body = await _call(application, _scope(hot.HOME_PATH, b"",
                                                         [(b"authorization", f"Bearer {write_token}".encode())]))
    assert status == 403 and json.loads(body)["required_scope"] == "read:statuses"


async def test_an_apps_own_token_is_left_to_the_view(oauth_app):
    from rest_framework.test import APIClient

    response = await sync_to_async(APIClient().post)("/oauth/token", {
        "grant_type": "client_credentials", "client_id": oauth_app["client_id"],
        "client_secret": oauth_app["client_secret"], "scope": "read"})
    app_token = response.json()["access_token"]
    returned, status, _, _ = await hot_answer(app_token)
    assert returned is None and status is None
    _, status, _, _ = await _call(application, _scope(hot.HOME_PATH, b"",
                                                      [(b"authorization", f"Bearer {app_token}".encode())]))
    assert status == 422  # the view's answer to an app token on an account's endpoint


# --- the same answers as the view, whatever happens to the timeline -------------------------------
@pytest.fixture
def busy_timeline(alice, bob, carol, make_user, as_user, settings):
    """alice follows bob, carol and dave (a celebrity, pulled at read time) and erin, who all posted,
    replied and reblogged; returns alice's key and everyone's client and user."""
    settings.FEED_CELEBRITY_THRESHOLD = 1
    settings.FEED_API_PER_5MIN = 10_000  # this test reads a lot
    dave, erin = make_user("dave"), make_user("erin")
    a, b, c, d, e = (as_user(u) for u in (alice, bob, carol, dave, erin))
    activate(a)
    activate(a)
    for user in (bob, carol, dave, erin):
        follow(a, user)
    follow(b, dave)  # two followers: dave is a celebrity
    posts = {}
    for i in range(3):
        posts[f"bob{i}"] = post(b, f"bob {i} @alice #tag")["id"]
        posts[f"dave{i}"] = post(d, f"dave {i}")["id"]
        posts[f"carol{i}"] = post(c, f"carol {i} https://example.com/{i}", in_reply_to_id=posts[f"bob{i}"])["id"]
    posts["erin_reblogs_dave"] = e.post(f"/api/v1/statuses/{posts['dave1']}/reblog").json()["id"]
    posts["carol_reblogs_bob"] = c.post(f"/api/v1/statuses/{posts['bob0']}/reblog").json()["id"]
    posts["erin"] = post(e, "erin")["id"]
    # Reblogs of accounts alice does not follow: only her hidden accounts keep them out once she
    # blocks frank or george blocks her.
    frank, george = make_user("frank"), make_user("george")
    posts["frank"] = post(as_user(frank), "frank")["id"]
    posts["george"] = post(as_user(george), "george")["id"]
    posts["carol_reblogs_frank"] = c.post(f"/api/v1/statuses/{posts['frank']}/reblog").json()["id"]
    posts["bob_reblogs_george"] = b.post(f"/api/v1/statuses/{posts['george']}/reblog").json()["id"]
    clients = {"a": a, "b": b, "c": c, "d": d, "e": e, "g": as_user(george)}
    return token_for(alice).key, clients, {"dave": dave, "erin": erin, "frank": frank}, posts


QUERIES = [b"", b"limit=3", b"limit=40", b"limit=2&max_id={mid}", b"since_id={mid}", b"min_id={mid}&limit=3",
           b"max_id={mid}&since_id={old}", b"min_id={old}", b"max_id={old}"]


async def _all_the_same(key: str, posts: dict) -> list[str]:
    """Each page query answered by the view then by the hot path: same status, bytes and Link; returns
    the ids of the first page."""
    first = []
    for query in QUERIES:
        query = query.replace(b"{mid}", posts["dave1"].encode()).replace(b"{old}", posts["bob0"].encode())
        django_result = await django_answer(key, query)
        hot_result = await hot_answer(key, query)
        assert hot_result[0] == 200, query  # answered on the hot path (the view filled what it reads)
        _same(hot_result, django_result)
        if not query:
            first = [s["id"] for s in json.loads(hot_result[3])]
    return first


async def test_the_hot_answers_are_the_views_through_favourites_reblogs_deletes_blocks_and_mutes(
        busy_timeline, alice, bob, carol):
    key, clients, users, posts = busy_timeline
    a, b, c, e = clients["a"], clients["b"], clients["c"], clients["e"]
    ids = await _all_the_same(key, posts)
    assert posts["dave2"] in ids and posts["erin_reblogs_dave"] in ids  # the celebrity is pulled and merged

    steps = [
        lambda: a.post(f"/api/v1/statuses/{posts['bob1']}/favourite"),
        lambda: a.post(f"/api/v1/statuses/{posts['dave1']}/favourite"),  # shown through erin's reblog
        lambda: a.post(f"/api/v1/statuses/{posts['carol2']}/reblog"),
        lambda: a.post(f"/api/v1/statuses/{posts['bob1']}/unfavourite"),
        lambda: a.post(f"/api/v1/statuses/{posts['carol2']}/unreblog"),
        lambda: b.post(f"/api/v1/statuses/{posts['bob2']}/favourite"),  # counters move
        lambda: b.delete(f"/api/v1/statuses/{posts['bob0']}"),  # with carol's reblog of it
        lambda: e.delete(f"/api/v1/statuses/{posts['erin_reblogs_dave']}"),
        lambda: a.post(f"/api/v1/accounts/{carol.id}/mute"),
        lambda: a.post(f"/api/v1/accounts/{carol.id}/unmute"),
        lambda: a.post(f"/api/v1/accounts/{users['frank'].id}/block"),  # carol's reblog of frank goes
        lambda: clients["g"].post(f"/api/v1/accounts/{alice.id}/block"),  # so does bob's reblog of george
        lambda: a.post(f"/api/v1/accounts/{users['erin'].id}/block"),
        lambda: e.post(f"/api/v1/accounts/{alice.id}/block"),  # blocked either way
        lambda: a.post(f"/api/v1/accounts/{users['erin'].id}/unblock"),  # still blocked by erin
        lambda: c.post(f"/api/v1/accounts/{alice.id}/block"),  # an author blocks the reader
    ]
    for step in steps:
        response = await sync_to_async(step)()
        assert response.status_code == 200, response.content
        await _all_the_same(key, posts)

    ids = await _all_the_same(key, posts)
    assert posts["bob0"] not in ids and posts["carol_reblogs_bob"] not in ids and posts["erin_reblogs_dave"] not in ids
    assert posts["erin"] not in ids and not {posts[f"carol{i}"] for i in range(3)} & set(ids)
    assert posts["carol_reblogs_frank"] not in ids and posts["bob_reblogs_george"] not in ids
    flags = {s["id"]: (s["favourited"], s["reblogged"]) for s in json.loads((await hot_answer(key))[3])}
    assert flags[posts["dave1"]] == (True, False) and flags[posts["bob2"]] == (False, False)


@given(st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(0, 2**63)), max_size=4))
def test_the_link_headers_query_is_urlencodes(params):
    from urllib.parse import urlencode

    from feed.api.base import _query

    assert _query(params) == urlencode(params)
