"""The account page: the user's API token, a copy button and a rotate button."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.services import token_for

pytestmark = pytest.mark.django_db

ACCOUNT = "/accounts/"
ROTATE = "/accounts/token/rotate/"


@pytest.fixture
def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def _shown_token(response) -> str | None:
    match = re.search(r'data-testid="api-token" type="text" value="([^"]+)"', response.content.decode())
    return match.group(1) if match else None


def _api_status(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client.get("/api/v1/auth/me").status_code


def test_the_page_needs_a_signed_in_user(client):
    response = client.get(ACCOUNT)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/accounts/"


def test_the_page_shows_the_users_token_with_copy_and_rotate_buttons(signed_in, user):
    key = token_for(user).key

    response = signed_in.get(ACCOUNT)

    assert response.status_code == 200
    assert _shown_token(response) == key
    content = response.content.decode()
    assert 'data-testid="copy-token"' in content and 'data-copy="#api-token"' in content
    assert re.search(r'<form method="post" action="/accounts/token/rotate/">\s*<input type="hidden" '
                     r'name="csrfmiddlewaretoken"', content)
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]


def test_the_page_loads_its_script_from_a_static_file_and_has_no_inline_script(signed_in):
    content = signed_in.get(ACCOUNT).content.decode()

    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", content, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)
    assert re.search(r'<script src="/static/core/account\.js"', content)
    assert not re.search(r"\son[a-z]+=", content)
    assert finders.find("core/account.js")


def test_the_top_bar_links_the_account_page_for_signed_in_users_only(signed_in):
    assert f'href="{ACCOUNT}"' in signed_in.get("/").content.decode()
    assert f'href="{ACCOUNT}"' not in Client().get("/").content.decode()


def test_rotate_shows_a_new_token_and_the_old_one_stops_working(signed_in, user, django_capture_on_commit_callbacks):
    old = token_for(user).key
    assert _api_status(old) == 200  # cached as valid

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(ROTATE, follow=True)

    assert response.redirect_chain == [(ACCOUNT, 302)]
    new = _shown_token(response)
    assert new and new != old
    assert "The old one no longer works" in response.content.decode()
    assert _api_status(old) == 401
    assert _api_status(new) == 200


def test_rotate_needs_the_csrf_token(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    old = token_for(user).key

    response = strict.post(ROTATE)

    assert response.status_code == 403
    assert Token.objects.get(user=user).key == old


def test_rotate_is_a_post(signed_in, user):
    old = token_for(user).key

    assert signed_in.get(ROTATE).status_code == 405
    assert Token.objects.get(user=user).key == old


def test_rotate_needs_a_signed_in_user(client):
    response = client.post(ROTATE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not Token.objects.exists()


def test_a_user_without_a_token_can_create_one(signed_in, user):
    page = signed_in.get(ACCOUNT)
    assert _shown_token(page) is None
    assert 'data-testid="no-token"' in page.content.decode()

    response = signed_in.post(ROTATE, follow=True)

    assert _shown_token(response) == Token.objects.get(user=user).key
