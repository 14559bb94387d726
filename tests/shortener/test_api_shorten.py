"""POST /api/v1/shorten: every outcome the issue names."""

import time

import pytest
from django.conf import settings
from django.urls import get_resolver

from core import base62, codes
from shortener.models import BlockedHost, Link, RedirectType
from shortener.services.links import RESERVED_ALIASES

pytestmark = pytest.mark.django_db
URL = "/api/v1/shorten"


def test_anonymous_shorten_returns_the_link_fields(api_client):
    response = api_client.post(URL, {"long_url": "https://example.com/a?b=c"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"short_code", "short_url", "long_url", "created_at", "expires_at", "redirect_type"}
    assert body["short_url"] == f"{settings.PUBLIC_BASE_URL}/{body['short_code']}"
    assert body["long_url"] == "https://example.com/a?b=c"
    assert body["redirect_type"] == 302
    link = Link.objects.get(short_code=body["short_code"])
    assert link.owner is None
    assert (link.expires_at - link.created_at).days == 365


def test_generated_code_is_seven_characters_from_the_permuted_counter(api_client):
    body = api_client.post(URL, {"long_url": "https://example.com/"}, format="json").json()
    link = Link.objects.get(short_code=body["short_code"])
    assert len(body["short_code"]) == 7
    assert set(body["short_code"]) <= set(base62.ALPHABET)
    assert link.code_seq is not None
    assert codes.code_for(link.code_seq) == body["short_code"]
    assert codes.sequence_of(body["short_code"]) == link.code_seq


def test_signed_in_links_belong_to_the_caller(auth_client):
    body = auth_client.post(
        URL,
        {"long_url": "https://example.com/x", "custom_alias": "my-link", "expires_in_days": 3,
         "redirect_type": 301, "password": "pw", "max_clicks": 5, "tags": ["Work", "q3"]},
        format="json",
    ).json()
    link = Link.objects.get(short_code="my-link")
    assert body["short_code"] == "my-link"
    assert body["redirect_type"] == 301
    assert link.owner == auth_client.user
    assert link.redirect_type == RedirectType.PERMANENT
    assert link.max_clicks == 5
    assert link.tag_list == ["work", "q3"]
    assert link.password_hash and link.password_hash != "pw"


def test_taken_alias_is_409_with_three_free_suggestions(api_client, make_link):
    make_link(custom_alias="taken")
    make_link(custom_alias="taken2")
    response = api_client.post(URL, {"long_url": "https://example.com/", "custom_alias": "taken"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "Custom alias already taken"
    assert body["code"] == "alias_taken"
    assert len(body["suggested"]) == 3
    assert not Link.objects.filter(short_code__in=body["suggested"]).exists()
    for suggestion in body["suggested"]:
        ok = api_client.post(URL, {"long_url": "https://example.com/", "custom_alias": suggestion}, format="json")
        assert ok.status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"long_url": "ftp://example.com/file"}, "long_url"),
        ({"long_url": "javascript:alert(1)"}, "long_url"),
        ({"long_url": "https://"}, "long_url"),
        ({"long_url": "not a url"}, "long_url"),
        ({"long_url": "https://example.com/" + "a" * 2040}, "long_url"),
        ({"long_url": ""}, "long_url"),
        ({}, "long_url"),
        ({"long_url": "https://example.com", "custom_alias": "ab"}, "custom_alias"),
        ({"long_url": "https://example.com", "custom_alias": "a" * 33}, "custom_alias"),
        ({"long_url": "https://example.com", "custom_alias": "bad alias"}, "custom_alias"),
        ({"long_url": "https://example.com", "custom_alias": "héllo"}, "custom_alias"),
        ({"long_url": "https://example.com", "expires_in_days": 0}, "expires_in_days"),
        ({"long_url": "https://example.com", "expires_in_days": 3651}, "expires_in_days"),
        ({"long_url": "https://example.com", "expires_in_days": "soon"}, "expires_in_days"),
        ({"long_url": "https://example.com", "redirect_type": 307}, "redirect_type"),
        ({"long_url": "https://example.com", "max_clicks": 0}, "max_clicks"),
        ({"long_url": "https://example.com", "tags": ["ok", "not ok"]}, "tags"),
    ],
)
def test_bad_input_is_400_naming_the_field(api_client, payload, field):
    response = api_client.post(URL, payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"]
    assert body["code"] in ("invalid", "blocked_host", "alias_reserved")


def test_url_of_exactly_2048_characters_is_accepted(api_client):
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    assert api_client.post(URL, {"long_url": url}, format="json").status_code == 201


@pytest.mark.parametrize("alias", ["api", "admin", "accounts", "static", "media", "ws", "feed", "chat", "rides",
                                   "healthz", "metrics", "links", "API", "Links"])
def test_reserved_alias_is_400(api_client, alias):
    response = api_client.post(URL, {"long_url": "https://example.com", "custom_alias": alias}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "alias_reserved"
    assert "custom_alias" in response.json()["fields"]


def test_every_top_level_path_of_the_project_is_reserved():
    prefixes = set()
    for pattern in get_resolver().url_patterns:
        first = str(pattern.pattern).lstrip("^").split("/")[0]
        if first and first.replace("-", "").replace("_", "").isalnum():
            prefixes.add(first.lower())
    assert prefixes, "no top-level paths found"
    assert prefixes <= RESERVED_ALIASES


def test_own_public_host_is_rejected(api_client):
    response = api_client.post(URL, {"long_url": f"{settings.PUBLIC_BASE_URL}/abcdefg"}, format="json")
    assert response.status_code == 400
    assert "long_url" in response.json()["fields"]


def test_request_host_is_rejected(api_client, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "short.example"]
    response = api_client.post(URL, {"long_url": "http://short.example:8080/x"}, format="json",
                               HTTP_HOST="short.example:8080")
    assert response.status_code == 400
    assert "long_url" in response.json()["fields"]


def test_host_on_the_settings_block_list_is_rejected(api_client, settings):
    settings.SHORTENER_BLOCKED_HOSTS = ["evil.example"]
    for url in ("https://evil.example/x", "https://www.EVIL.example/y"):
        response = api_client.post(URL, {"long_url": url}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "blocked_host"
    assert api_client.post(URL, {"long_url": "https://notevil.example/"}, format="json").status_code == 201


def test_host_on_the_admin_block_list_is_rejected(api_client):
    BlockedHost.objects.create(host="malware.test")
    response = api_client.post(URL, {"long_url": "https://cdn.malware.test/x"}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["long_url"]


def test_anonymous_shorten_is_rate_limited_per_ip(api_client):
    statuses = [
        api_client.post(URL, {"long_url": f"https://example.com/{i}"}, format="json", REMOTE_ADDR="10.1.1.1")
        for i in range(25)
    ]
    assert statuses[0].status_code == 201
    limited = [r for r in statuses if r.status_code == 429]
    assert limited
    assert int(limited[0]["Retry-After"]) >= 1
    assert limited[0].json()["code"] == "rate_limited"
    other_ip = api_client.post(URL, {"long_url": "https://example.com/"}, format="json", REMOTE_ADDR="10.1.1.2")
    assert other_ip.status_code == 201


def test_signed_in_users_are_not_limited_by_the_anonymous_bucket(auth_client):
    for i in range(25):
        assert auth_client.post(URL, {"long_url": f"https://example.com/{i}"}, format="json").status_code == 201


def test_batch_creation_fails_a_taken_alias_alone(make_link, user):
    from core.errors import ApplicationError
    from shortener.services.links import link_create_batch, link_input_from

    make_link(custom_alias="batch-taken")
    items = [(user, link_input_from({"long_url": "https://example.com/1"})),
             (user, link_input_from({"long_url": "https://example.com/2", "custom_alias": "batch-taken"})),
             (None, link_input_from({"long_url": "https://example.com/3", "custom_alias": "batch-free"}))]
    results = link_create_batch(items=items)
    assert isinstance(results[0], Link) and results[0].owner == user
    assert isinstance(results[1], ApplicationError) and results[1].status == 409
    assert len(results[1].extra["suggested"]) == 3
    assert Link.objects.get(short_code="batch-free").owner is None


def test_signed_in_creation_is_rate_limited_per_user_with_retry_after(auth_client, client_for, make_user, settings,
                                                                     monkeypatch):
    settings.SHORTENER_CREATE_PER_MINUTE = 5
    frozen = time.time_ns() // 1_000_000
    monkeypatch.setattr("core.ratelimit._now_ms", lambda: frozen)
    statuses = [auth_client.post(URL, {"long_url": f"https://example.com/{i}"}, format="json") for i in range(8)]
    assert [r.status_code for r in statuses] == [201] * 5 + [429] * 3
    limited = statuses[-1]
    assert limited.json()["code"] == "rate_limited"
    assert int(limited["Retry-After"]) >= 1
    assert Link.objects.filter(owner=auth_client.user).count() == 5
    # The bucket is the user's: another user, and the same user from another address, are judged apart.
    other = client_for(make_user("bob"))
    assert other.post(URL, {"long_url": "https://example.com/bob"}, format="json").status_code == 201
    again = auth_client.post(URL, {"long_url": "https://example.com/x"}, format="json", REMOTE_ADDR="10.9.9.9")
    assert again.status_code == 429


def test_a_burst_of_signed_in_creation_is_cut_at_the_default_limit(auth_client, monkeypatch):
    # The burst arrives at one instant: a slow machine must not refill the bucket meanwhile.
    frozen = time.time_ns() // 1_000_000
    monkeypatch.setattr("core.ratelimit._now_ms", lambda: frozen)
    statuses = [auth_client.post(URL, {"long_url": f"https://example.com/{i}"}, format="json").status_code
                for i in range(settings.SHORTENER_CREATE_PER_MINUTE + 5)]
    assert statuses.count(201) == settings.SHORTENER_CREATE_PER_MINUTE
    assert statuses[-5:] == [429] * 5


def test_batch_creation_answers_429_in_the_slots_of_a_user_over_the_limit(make_user, settings):
    from core.errors import ApplicationError
    from shortener.services.links import link_create_batch, link_input_from

    settings.SHORTENER_CREATE_PER_MINUTE = 2
    busy, calm = make_user("busy"), make_user("calm")
    items = [(busy, link_input_from({"long_url": f"https://example.com/{i}"})) for i in range(3)]
    items.append((calm, link_input_from({"long_url": "https://example.com/calm"})))
    results = link_create_batch(items=items)
    assert [isinstance(r, Link) for r in results] == [True, True, False, True]
    assert isinstance(results[2], ApplicationError)
    assert (results[2].status, results[2].code) == (429, "rate_limited")
    assert results[2].extra["retry_after"] >= 1
    assert Link.objects.filter(owner=busy).count() == 2


def test_null_expiry_means_the_link_never_expires(auth_client):
    response = auth_client.post(URL, {"long_url": "https://example.com/", "expires_in_days": None}, format="json")
    assert response.status_code == 201
    assert response.json()["expires_at"] is None
    assert Link.objects.get(short_code=response.json()["short_code"]).expires_at is None


def test_an_absent_expiry_is_still_one_year(auth_client):
    body = auth_client.post(URL, {"long_url": "https://example.com/"}, format="json").json()
    link = Link.objects.get(short_code=body["short_code"])
    assert body["expires_at"] is not None
    assert (link.expires_at - link.created_at).days == 365
