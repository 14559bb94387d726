"""Staff's edits of an account in the admin: apps hear of them after the commit, and a deactivated
account's tokens stop resolving at once (hot handlers trust the token cache)."""

import pytest
from django.test import Client

from core import services, tokens
from core.services import token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff(make_user):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def heard(monkeypatch):
    """The account ids the registered listeners were told of."""
    told: list[int] = []
    monkeypatch.setattr(services, "_account_listeners", [*services._account_listeners, told.append])
    return told


def _edit(staff, user, **fields):
    data = {"username": user.username, "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            **fields}
    return staff.post(f"/admin/auth/user/{user.pk}/change/", {k: v for k, v in data.items() if v is not None})


def test_a_user_deactivated_in_the_admin_loses_their_cached_tokens_at_once(staff, make_user, heard):
    carol = make_user("carol")
    key = token_for(carol).key
    assert tokens.user_id_for_token(key) == carol.pk  # cached now

    assert _edit(staff, carol, is_active=None).status_code == 302

    assert tokens.user_id_for_token(key) is None
    assert heard == [carol.pk]


def test_a_renamed_user_keeps_their_tokens_and_apps_hear_of_it(staff, make_user, heard):
    carol = make_user("carol")
    key = token_for(carol).key
    assert tokens.user_id_for_token(key) == carol.pk

    assert _edit(staff, carol, username="caroline", first_name="Caroline").status_code == 302

    assert tokens.user_id_for_token(key) == carol.pk
    assert heard == [carol.pk]


def test_a_refused_edit_announces_nothing(staff, make_user, heard):
    make_user("alice")
    carol = make_user("carol")

    assert _edit(staff, carol, username="ALICE").status_code == 200  # taken in another case

    assert heard == []


def test_a_listener_registered_twice_is_told_once(monkeypatch):
    told: list[int] = []
    monkeypatch.setattr(services, "_account_listeners", [])
    services.register_account_listener(told.append)
    services.register_account_listener(told.append)
    assert services._account_listeners == [told.append]
