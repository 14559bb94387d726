"""API tokens over HTTP: Token and Bearer headers, rotation and revocation that bite at once."""

import json
import threading

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.asgi import application
from core.services import token_for, token_rotate

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
TOKEN = "/api/v1/auth/token"
ROTATE = "/api/v1/auth/token/rotate"


def _client(header: str | None = None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize("scheme", ["Bearer", "Token", "bearer", "TOKEN"])
def test_both_schemes_authenticate_api_requests(user, scheme):
    response = _client(f"{scheme} {token_for(user).key}").get(ME)

    assert response.status_code == 200
    assert response.json() == {"id": user.id, "username": "alice"}


@pytest.mark.parametrize("header", ["Bearer", "Bearer two parts", "Token " + "x" * 300])
def test_a_malformed_token_header_is_a_json_401(header):
    response = _client(header).get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_bearer_token_is_a_json_401():
    response = _client("Bearer " + "0" * 40).get(ME)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid token.", "code": "authentication_failed"}


def test_another_scheme_is_not_taken_for_a_token(user):
    response = _client(f"Basic {token_for(user).key}").get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_deactivated_users_cached_token_is_refused(make_user):
    user = make_user("idle")
    client = _client(f"Bearer {token_for(user).key}")
    assert client.get(ME).status_code == 200  # now cached as this user's
    user.is_active = False
    user.save()

    response = client.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_rotate_returns_a_new_token_and_the_old_one_dies_at_once(user, django_capture_on_commit_callbacks):
    old = token_for(user).key
    client = _client(f"Bearer {old}")
    assert client.get(ME).status_code == 200  # the old key is now in the token cache

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ROTATE)

    assert response.status_code == 200
    new = response.json()["token"]
    assert set(response.json()) == {"token"}
    assert len(new) == 40 and new != old
    assert client.get(ME).status_code == 401
    assert _client(f"Token {new}").get(ME).json()["username"] == "alice"
    assert list(Token.objects.filter(user=user).values_list("key", flat=True)) == [new]


def test_delete_revokes_the_token_in_use_at_once(user, django_capture_on_commit_callbacks):
    key = token_for(user).key
    client = _client(f"Token {key}")
    assert client.get(ME).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(TOKEN)

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(ME).status_code == 401
    assert not Token.objects.filter(key=key).exists()


def test_delete_and_rotate_need_credentials():
    assert _client().delete(TOKEN).status_code == 401
    response = _client().post(ROTATE)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_revoked_token_cannot_delete_or_rotate_again(user, django_capture_on_commit_callbacks):
    client = _client(f"Bearer {token_for(user).key}")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(TOKEN).status_code == 204

    assert client.delete(TOKEN).status_code == 401
    assert client.post(ROTATE).status_code == 401


def test_one_user_cannot_revoke_anothers_token(user, make_user, django_capture_on_commit_callbacks):
    victim_key = token_for(make_user("victim")).key
    with django_capture_on_commit_callbacks(execute=True):
        _client(f"Bearer {token_for(user).key}").delete(TOKEN)

    assert _client(f"Bearer {victim_key}").get(ME).json()["username"] == "victim"


def test_logging_in_again_after_revoking_gives_a_fresh_token(make_user, django_capture_on_commit_callbacks):
    make_user("rae", password="s3cure-Passphrase")
    old = _client().post(TOKEN, {"username": "rae", "password": "s3cure-Passphrase"}, format="json").json()["token"]
    with django_capture_on_commit_callbacks(execute=True):
        _client(f"Bearer {old}").delete(TOKEN)

    # A stale Authorization header on the log-in call itself does not get in the way.
    response = _client(f"Bearer {old}").post(TOKEN, {"username": "rae", "password": "s3cure-Passphrase"}, format="json")

    assert response.status_code == 200
    assert response.json()["token"] != old
    assert _client(f"Bearer {response.json()['token']}").get(ME).status_code == 200


def test_session_rotation_needs_the_csrf_token(user):
    strict = APIClient(enforce_csrf_checks=True)
    strict.force_login(user)
    old = token_for(user).key

    response = strict.post(ROTATE)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Token.objects.get(user=user).key == old


def test_session_delete_revokes_the_accounts_token(user, django_capture_on_commit_callbacks):
    key = token_for(user).key
    session = APIClient()
    session.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        assert session.delete(TOKEN).status_code == 204

    assert _client(f"Bearer {key}").get(ME).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_each_succeed_and_leave_one_working_token(user):
    token_for(user)
    keys, failures = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def rotate():
        barrier.wait()
        try:
            key = token_rotate(user=user).key
        except Exception as exc:  # noqa: BLE001 - any failure is what this test looks for
            with lock:
                failures.append(exc)
        else:
            with lock:
                keys.append(key)
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(keys)) == 4
    remaining = list(Token.objects.filter(user=user).values_list("key", flat=True))
    assert len(remaining) == 1 and remaining[0] in keys
    working = [key for key in keys if _client(f"Bearer {key}").get(ME).status_code == 200]
    assert working == remaining


def test_the_schema_documents_rotate_delete_and_bearer_auth(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "200" in schema["paths"][ROTATE]["post"]["responses"]
    assert "204" in schema["paths"][TOKEN]["delete"]["responses"]
    assert {"tokenAuth": []} in schema["paths"][ROTATE]["post"]["security"]
    assert schema["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


async def _hot_shorten(key: str) -> int:
    """POST /api/v1/shorten through the project's ASGI app (its hot handler answers token calls)."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/api/v1/shorten", "raw_path": b"/api/v1/shorten", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {key}".encode())],
        "client": ("203.0.113.9", 50000), "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": json.dumps({"long_url": "https://example.com/"}).encode()})
    start = await communicator.receive_output(5)
    await communicator.receive_output(5)
    await communicator.wait(5)
    return start["status"]


@pytest.mark.django_db(transaction=True)
async def test_a_rotated_token_is_refused_by_the_hot_path_at_once(user):
    old = (await sync_to_async(token_for)(user)).key
    assert await _hot_shorten(old) == 201  # the hot path has now cached the old key

    response = await sync_to_async(_client(f"Bearer {old}").post)(ROTATE)

    assert await _hot_shorten(old) == 401
    assert await _hot_shorten(response.json()["token"]) == 201
