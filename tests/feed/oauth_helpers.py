"""OAuth steps of a Mastodon app, as the feed's tests take them."""

from django.test import Client
from rest_framework.test import APIClient

OOB = "urn:ietf:wg:oauth:2.0:oob"


def register_app(scopes: str = "read write follow push", redirect_uris: str = OOB) -> dict:
    response = APIClient().post("/api/v1/apps", {"client_name": "Test app", "redirect_uris": redirect_uris,
                                                 "scopes": scopes, "website": "https://app.example"})
    assert response.status_code == 200, response.content
    return response.json()


def authorization_code(user, app: dict, scope: str) -> str:
    """Consent as ``user`` on the page and read the code the out-of-band page shows."""
    import re

    browser = Client()
    browser.force_login(user)
    params = {"client_id": app["client_id"], "redirect_uri": OOB, "response_type": "code", "scope": scope}
    page = browser.get("/oauth/authorize", params)
    assert page.status_code == 200, page.content
    answer = browser.post("/oauth/authorize", {**params, "allow": "Authorize"})
    assert answer.status_code == 200, answer.content
    match = re.search(r'value="([^"]+)" data-testid="oauth-code"', answer.content.decode())
    assert match and match.group(1), answer.content
    return match.group(1)


def user_token(user, *, scope: str = "read write follow push", app: dict | None = None) -> str:
    app = app or register_app(scope)
    code = authorization_code(user, app, scope)
    response = APIClient().post("/oauth/token", {
        "grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
        "client_secret": app["client_secret"], "redirect_uri": OOB, "scope": scope,
    })
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client
