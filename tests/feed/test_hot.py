"""The home timeline on the hot path: the same bytes as the DRF view, the same token check,
and Django answering everything unusual."""

import json

import pytest
from asgiref.sync import sync_to_async

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


async def test_a_deactivated_reader_with_a_cached_token_is_refused(timeline, alice):
    assert (await hot_answer(timeline))[0] == 200  # the token is cached now
    await type(alice).objects.filter(id=alice.id).aupdate(is_active=False)
    hot_result = await hot_answer(timeline)
    assert hot_result[0] == 401
    _same(hot_result, await django_answer(timeline))


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
    original = hot._home_page

    def spy(scope, key, user_id):
        answer = original(scope, key, user_id)
        answered.append(answer[0])
        return answer

    monkeypatch.setattr(hot, "_home_page", spy)
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
