"""The password change page: the old password is checked, other sessions end, this one stays."""

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from core import hotredis, sessions

pytestmark = pytest.mark.django_db(transaction=True)

OLD, NEW = "old-password-123", "n3w-Passw0rd-456"


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _change(client, old=OLD, new1=NEW, new2=NEW):
    return client.post("/accounts/password/", {"old_password": old, "new_password1": new1, "new_password2": new2})


def test_the_page_needs_a_signed_in_user():
    response = Client().get("/accounts/password/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_account_page_links_to_it(make_user):
    html = _client_for(make_user("ann", password=OLD)).get("/accounts/").content.decode()

    assert 'href="/accounts/password/"' in html


def test_a_wrong_old_password_changes_nothing(make_user):
    user = make_user("bob", password=OLD)
    response = _change(_client_for(user), old="not-it-at-all")

    assert response.status_code == 200
    assert "old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_mismatched_or_weak_new_passwords_are_refused(make_user):
    user = make_user("cat", password=OLD)
    client = _client_for(user)

    assert _change(client, new2="something-else-789").status_code == 200
    assert _change(client, new1="123", new2="123").status_code == 200
    user.refresh_from_db()
    assert user.check_password(OLD)


def test_a_change_keeps_this_session_and_signs_out_the_others(make_user):
    user = make_user("dan", password=OLD)
    here, there = _client_for(user), _client_for(user)

    response = _change(here)

    assert response.status_code == 302 and response["Location"] == "/accounts/"
    assert "Your password is changed" in here.get("/accounts/").content.decode()
    assert there.get("/accounts/").status_code == 302  # back to the log-in page
    user.refresh_from_db()
    assert user.check_password(NEW)


class _DeadRedis:
    async def execute(self, *command):
        raise ConnectionError("Redis is down")


async def test_without_redis_a_socket_asks_the_session_store(make_user, monkeypatch):
    user = await database_sync_to_async(make_user)("eli", password=OLD)
    client = await database_sync_to_async(_client_for)(user)
    session_key = client.cookies["sessionid"].value
    monkeypatch.setattr(hotredis, "connection", lambda: _DeadRedis())

    assert await sessions.asession_valid(session_key, user.pk, 0.0)
    assert not await sessions.asession_valid(session_key, user.pk + 1, 0.0)  # not this user's session

    await database_sync_to_async(client.logout)()
    assert not await sessions.asession_valid(session_key, user.pk, 0.0)
