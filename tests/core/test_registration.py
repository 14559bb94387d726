"""One sign-up rule for the web form and the API: NFKC, ASCII letters/digits/_, 3–30, unique in any case."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from core.services import USERNAME_RULE

PASSWORD = "s3cure-Passphrase"
REGISTER = "/api/v1/auth/register"
SIGNUP = "/accounts/signup/"

HOSTILE = [
    "alice\u200b",  # zero-width space
    "ali ce",
    "a/b",
    "<b>x</b>",
    "ab",  # too short
    "a" * 31,  # too long
    "bob.smith",
    "bob-smith",
    "b\u043eb",  # Cyrillic o
    "\u202ebob",  # right-to-left override
    "b\u0301ob",  # combining accent
    "",
]

User = get_user_model()


def _api_register(username, client=None):
    return (client or APIClient()).post(REGISTER, {"username": username, "password": PASSWORD}, format="json")


def _web_signup(username, client=None):
    return (client or Client()).post(SIGNUP, {"username": username, "password1": PASSWORD, "password2": PASSWORD})


@pytest.mark.django_db
@pytest.mark.parametrize("username", [name for name in HOSTILE if name])
def test_the_api_refuses_a_username_outside_the_rule_naming_the_field(username):
    response = _api_register(username)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["username"]
    assert body["fields"]["username"] == [USERNAME_RULE]
    assert body["error"] == f"username: {USERNAME_RULE}"
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", HOSTILE)
def test_the_web_form_refuses_a_username_outside_the_rule_on_the_field(username):
    response = _web_signup(username)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="field has-error"' in content
    assert "English letters, digits and underscores" in content or "This field is required." in content
    assert "<b>x</b>" not in content  # what was typed comes back escaped
    assert 'data-testid="whoami"' not in content
    assert not User.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["bob", "Bob_2", "a_b", "x" * 30, "ABC"])
def test_names_inside_the_rule_are_accepted_on_both_surfaces(username):
    assert _api_register(username).status_code == 201
    User.objects.all().delete()
    assert _web_signup(username).status_code == 302
    assert User.objects.get().username == username


@pytest.mark.django_db
def test_compatibility_forms_are_normalised_before_the_rule():
    response = _api_register("\uff42\uff4f\uff42\uff11")  # full-width "bob1"

    assert response.status_code == 201
    assert response.json()["username"] == "bob1"
    assert User.objects.get().username == "bob1"


@pytest.mark.django_db
def test_a_normalised_name_is_taken_by_its_ascii_twin_in_any_case():
    assert _web_signup("Bob1").status_code == 302

    response = _api_register("\uff42\uff4f\uff42\uff11")

    assert response.status_code == 400
    assert response.json()["code"] == "username_taken"
    assert "username" in response.json()["fields"]


@pytest.mark.django_db
def test_the_web_form_shows_the_rule_as_help():
    content = Client().get(SIGNUP).content.decode()

    assert "English letters, digits and underscores" in content


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("surface", ["api", "web"])
def test_concurrent_registrations_of_bob_and_bob_create_exactly_one_user(surface):
    register = _api_register if surface == "api" else _web_signup
    statuses: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(2)

    def attempt(name):
        barrier.wait()
        try:
            status = register(name).status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(name,)) for name in ("Bob", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    created = 201 if surface == "api" else 302
    refused = 400 if surface == "api" else 200
    assert sorted(statuses) == sorted([created, refused])
    assert User.objects.filter(username__iexact="bob").count() == 1
