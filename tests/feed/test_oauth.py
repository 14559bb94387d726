"""OAuth 2 for Mastodon apps: registration, consent, tokens, scopes and revocation."""

import pytest
from rest_framework.test import APIClient

from tests.feed.oauth_helpers import OOB, authorization_code, bearer, register_app, user_token

pytestmark = pytest.mark.django_db(transaction=True)


def test_registering_an_app_answers_mastodons_application_entity():
    app = register_app("read write")
    assert app["name"] == "Test app"
    assert app["redirect_uri"] == OOB and app["redirect_uris"] == [OOB]
    assert app["scopes"] == ["read", "write"]
    assert app["website"] == "https://app.example"
    assert app["client_id"] and app["client_secret"] and app["client_secret_expires_at"] == 0


def test_registering_takes_json_with_a_list_of_redirect_uris():
    response = APIClient().post("/api/v1/apps", {"client_name": "x", "redirect_uris": [OOB, "https://a.example/cb"]},
                                format="json")
    assert response.status_code == 200, response.content
    assert response.json()["redirect_uris"] == [OOB, "https://a.example/cb"]
    assert response.json()["scopes"] == ["read"]


@pytest.mark.parametrize(("body", "field"), [
    ({"redirect_uris": OOB}, "client_name"),
    ({"client_name": "  ", "redirect_uris": OOB}, "client_name"),
    ({"client_name": "x"}, "redirect_uris"),
    ({"client_name": "x", "redirect_uris": "javascript:alert(1)"}, "redirect_uris"),
    ({"client_name": "x", "redirect_uris": "https://a.example/cb#frag"}, "redirect_uris"),
    ({"client_name": "x", "redirect_uris": OOB, "scopes": "read admin:write"}, "scopes"),
    ({"client_name": "x" * 300, "redirect_uris": OOB}, "client_name"),
])
def test_a_bad_app_registration_is_a_422_naming_the_field(body, field):
    response = APIClient().post("/api/v1/apps", body)
    assert response.status_code == 422, response.content
    assert field in response.json()["fields"]
    assert response.json()["error"].startswith("Validation failed")


def test_the_consent_page_requires_logging_in():
    app = register_app()
    response = APIClient().get("/oauth/authorize", {"client_id": app["client_id"], "redirect_uri": OOB,
                                                    "response_type": "code", "scope": "read"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_consent_page_names_the_app_and_has_no_inline_script(alice):
    from django.test import Client

    app = register_app()
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/oauth/authorize", {"client_id": app["client_id"], "redirect_uri": OOB,
                                            "response_type": "code", "scope": "read write"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Authorize Test app?" in html
    assert "<script>" not in html and "onclick" not in html


def test_authorization_code_flow_gives_a_bearer_token_for_the_user(alice):
    token = user_token(alice)
    response = bearer(token).get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 200, response.content
    assert response.json()["username"] == "alice"


def test_the_token_answer_is_mastodons_token_entity(alice):
    app = register_app("read")
    code = authorization_code(alice, app, "read")
    response = APIClient().post("/oauth/token", {
        "grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
        "client_secret": app["client_secret"], "redirect_uri": OOB,
    })
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["scope"] == "read"
    assert isinstance(body["created_at"], int) and body["access_token"]


def test_a_code_is_good_once(alice):
    app = register_app("read")
    code = authorization_code(alice, app, "read")
    form = {"grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
            "client_secret": app["client_secret"], "redirect_uri": OOB}
    assert APIClient().post("/oauth/token", form).status_code == 200
    assert APIClient().post("/oauth/token", form).status_code == 400


def test_a_wrong_client_secret_gets_no_token(alice):
    app = register_app("read")
    code = authorization_code(alice, app, "read")
    response = APIClient().post("/oauth/token", {
        "grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
        "client_secret": "wrong", "redirect_uri": OOB,
    })
    assert response.status_code == 401


def test_an_app_cannot_ask_for_scopes_it_did_not_register(alice):
    from django.test import Client

    app = register_app("read")
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/oauth/authorize", {"client_id": app["client_id"], "redirect_uri": OOB,
                                            "response_type": "code", "scope": "read write"})
    assert "invalid_scope" in page.content.decode()
    response = APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"],
                                                 "client_secret": app["client_secret"], "scope": "write"})
    assert response.status_code == 400


def test_client_credentials_give_an_app_token_that_is_no_user():
    app = register_app("read write")
    response = APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"],
                                                 "client_secret": app["client_secret"], "scope": "read"})
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    response = bearer(token).get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 422
    assert response.json()["error"] == "This method requires an authenticated user"
    assert bearer(token).get("/api/v1/instance").status_code == 200


def test_a_token_without_the_write_scope_cannot_post(alice):
    client = bearer(user_token(alice, scope="read"))
    response = client.post("/api/v1/statuses", {"status": "hi"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "This action is outside the authorized scopes"
    assert client.get("/api/v1/timelines/home").status_code in (200, 206)


def test_granular_scopes_cover_only_their_part(alice, bob):
    client = bearer(user_token(alice, scope="read:statuses write:statuses"))
    assert client.post("/api/v1/statuses", {"status": "hi"}, format="json").status_code == 200
    assert client.get("/api/v1/timelines/home").status_code in (200, 206)
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 403
    assert client.post(f"/api/v1/accounts/{bob.id}/follow").status_code == 403


def test_the_follow_scope_covers_following_and_blocking(alice, bob):
    client = bearer(user_token(alice, scope="follow"))
    assert client.post(f"/api/v1/accounts/{bob.id}/follow").status_code == 200
    assert client.post(f"/api/v1/accounts/{bob.id}/block").status_code == 200
    assert client.post("/api/v1/statuses", {"status": "hi"}, format="json").status_code == 403


def test_a_token_on_a_public_read_still_needs_its_scope(alice):
    client = bearer(user_token(alice, scope="write"))
    assert client.get(f"/api/v1/accounts/{alice.id}").status_code == 403
    assert APIClient().get(f"/api/v1/accounts/{alice.id}").status_code == 200


def test_platform_tokens_and_sessions_have_every_scope(alice, as_user):
    assert as_user(alice).post("/api/v1/statuses", {"status": "hi"}, format="json").status_code == 200
    session = APIClient()
    session.force_login(alice)
    assert session.get("/api/v1/accounts/verify_credentials").status_code == 200


def test_a_revoked_token_dies_at_once(alice):
    app = register_app("read")
    token = user_token(alice, scope="read", app=app)
    client = bearer(token)
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 200  # now cached
    response = APIClient().post("/oauth/revoke", {"token": token, "client_id": app["client_id"],
                                                  "client_secret": app["client_secret"]})
    assert response.status_code == 200 and response.json() == {}
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 401


def test_revoking_needs_the_apps_own_credentials(alice):
    app = register_app("read")
    token = user_token(alice, scope="read", app=app)
    other = register_app("read")
    APIClient().post("/oauth/revoke", {"token": token, "client_id": other["client_id"],
                                       "client_secret": other["client_secret"]})
    assert bearer(token).get("/api/v1/accounts/verify_credentials").status_code == 200


def test_a_deactivated_users_oauth_token_stops_working(alice):
    from core.tokens import user_tokens_invalidate

    client = bearer(user_token(alice, scope="read"))
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 200
    alice.is_active = False
    alice.save()
    user_tokens_invalidate(alice.id)
    assert client.get("/api/v1/accounts/verify_credentials").status_code == 401


async def test_an_oauth_token_opens_a_socket_through_the_one_token_check(alice):
    from asgiref.sync import sync_to_async

    from core.tokens import auser_id_for_token

    token = await sync_to_async(user_token)(alice, scope="read")
    assert await auser_id_for_token(token) == alice.id


def test_an_app_token_verifies_its_app():
    app = register_app("read")
    token = APIClient().post("/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"],
                                              "client_secret": app["client_secret"]}).json()["access_token"]
    response = bearer(token).get("/api/v1/apps/verify_credentials")
    assert response.status_code == 200
    assert response.json()["name"] == "Test app" and "client_secret" not in response.json()
    assert bearer("nope").get("/api/v1/apps/verify_credentials").status_code == 401


def test_an_app_with_a_web_redirect_gets_the_code_there_and_the_page_may_send_it(alice):
    from urllib.parse import parse_qs, urlsplit

    from django.test import Client

    app = register_app("read", redirect_uris="https://app.example/callback")
    browser = Client()
    browser.force_login(alice)
    params = {"client_id": app["client_id"], "redirect_uri": "https://app.example/callback",
              "response_type": "code", "scope": "read", "state": "xyz"}
    page = browser.get("/oauth/authorize", params)
    assert page.status_code == 200
    assert page["Content-Security-Policy"].endswith("form-action 'self' https://app.example")
    answer = browser.post("/oauth/authorize", {**params, "allow": "Authorize"})
    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    assert (target.netloc, target.path) == ("app.example", "/callback")
    assert parse_qs(target.query)["state"] == ["xyz"] and parse_qs(target.query)["code"]


def test_an_unregistered_redirect_uri_is_refused(alice):
    from django.test import Client

    app = register_app("read", redirect_uris="https://app.example/callback")
    browser = Client()
    browser.force_login(alice)
    page = browser.get("/oauth/authorize", {"client_id": app["client_id"], "redirect_uri": "https://evil.example/",
                                            "response_type": "code", "scope": "read"})
    assert page.status_code == 400
    assert "evil.example" not in page.get("Location", "")


def test_denying_shows_no_code(alice):
    from django.test import Client

    app = register_app("read")
    browser = Client()
    browser.force_login(alice)
    params = {"client_id": app["client_id"], "redirect_uri": OOB, "response_type": "code", "scope": "read"}
    answer = browser.post("/oauth/authorize", params)
    assert answer.status_code == 200
    assert "oauth-code" not in answer.content.decode() and "access_denied" in answer.content.decode()


def test_a_tokens_scopes_are_read_from_the_database_once_while_cached(alice, django_assert_num_queries):
    from feed.oauth import token_scopes

    token = user_token(alice, scope="read write")
    assert token_scopes(token) == {"read", "write"}
    with django_assert_num_queries(0):
        assert token_scopes(token) == {"read", "write"}
    assert token_scopes("no-such-token") is None
    with django_assert_num_queries(0):
        assert token_scopes("no-such-token") is None


def test_app_registrations_are_limited_per_address(monkeypatch):
    from core.ratelimit import RateLimit
    from feed import oauth_views

    monkeypatch.setattr(oauth_views, "APPS_PER_ADDRESS", RateLimit(scope="feed-apps", limit=2, period=300))
    codes = [APIClient().post("/api/v1/apps", {"client_name": "x", "redirect_uris": OOB}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_the_hot_path_reads_a_tokens_scopes_asynchronously(alice):
    from asgiref.sync import sync_to_async

    from feed.oauth import atoken_scopes, key_may

    token = await sync_to_async(user_token)(alice, scope="read:notifications")
    assert await atoken_scopes(token) == {"read:notifications"}
    assert await atoken_scopes("platform-or-unknown") is None
    assert not await sync_to_async(key_may)(token, "read:statuses")
    assert await sync_to_async(key_may)(None, "read:statuses")
