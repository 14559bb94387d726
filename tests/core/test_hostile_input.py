"""Crafted requests to the platform: deep JSON, path traversal under /static/, unknown WebSocket paths."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings

from config.asgi import application
from core.parsers import JSONTooDeep, depth_exceeds, loads
from core.services import token_for
from core.ws_routes import UNKNOWN_ROUTE_CLOSE_CODE
from tests.fixtures.asgi import asgi_call, http_scope
from tests.shortener.test_fastpath import asgi_request

ORIGIN = (b"origin", b"http://127.0.0.1")


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# --- deep JSON -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [nested(5000), nested_objects(5000), b'{"long_url": ' + nested(100_000) + b"}"],
                         ids=["arrays", "objects", "inside-a-field"])
@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/shorten"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/chat/conversations"),
    ("PATCH", "/api/v1/links/{code}"),
])
@pytest.mark.django_db
def test_deeply_nested_json_is_a_400_parse_error_on_every_api(auth_client, method, path, body):
    from shortener.services.links import link_create, link_input_from

    link = link_create(owner=auth_client.user, data=link_input_from({"long_url": "https://example.com/"}))
    path = path.format(code=link.short_code)
    response = auth_client.generic(method, path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error"
    assert "nested deeper" in response.json()["error"]


@pytest.mark.django_db
def test_json_within_the_depth_limit_is_parsed_as_before(auth_client):
    body = {"long_url": "https://example.com/", "tags": ["a"], "x": nested(settings.MAX_JSON_DEPTH - 2).decode()}
    response = auth_client.post("/api/v1/shorten", body, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(("text", "limit", "too_deep"), [
    ("[[[]]]", 3, False), ("[[[[]]]]", 3, True), ('{"a": {"b": [1]}}', 3, False), ('{"a": {"b": [[1]]}}', 3, True),
    ('["[[[[[[[[[["]', 2, False), ("1", 0, False), ("[]", 0, True),
    # Bytes too; more brackets than the limit in shallow documents; as few as the limit, too deep.
    (b"[" + b"[]," * 99 + b"[]]", 2, False), (b'{"a": [1], "b": {"c": 2}}', 1, True), (b"[[[1]]]", 3, False),
    (b'[[[{"a": 1}]]]', 3, True),
])
def test_loads_counts_only_real_nesting(text, limit, too_deep):
    if too_deep:
        with pytest.raises(JSONTooDeep):
            loads(text, max_depth=limit)
    else:
        assert loads(text, max_depth=limit) == json.loads(text)


def test_loads_turns_a_recursion_error_into_a_value_error():
    with pytest.raises(ValueError, match="nested deeper"):
        loads(nested(200_000), max_depth=10**6)


def test_depth_is_measured_without_recursion():
    value: list = []
    for _ in range(50_000):
        value = [value]
    assert depth_exceeds(value, 100)
    assert not depth_exceeds(value, 50_001)


# --- static files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "/static/..%2f..%2fsecret_key", "/static/..%2fsecret_key", "/static/%2e%2e/%2e%2e/secret_key",
    "/static/../../secret_key", "/static/core/..%2f..%2f..%2fsecret_key", "/static/..%5c..%5csecret_key",
    "/static/%2fetc%2fpasswd", "/static/..%2f..%2fconfig%2fsettings.py",
])
@pytest.mark.django_db
async def test_static_paths_escaping_the_static_directories_are_404(raw):
    from urllib.parse import unquote

    status, _, body = await asgi_request(unquote(raw))
    assert status == 404
    assert settings.SECRET_KEY.encode() not in body
    assert b"SECRET_KEY" not in body


@pytest.mark.django_db
async def test_static_files_are_still_served():
    status, _, body = await asgi_request("/static/core/app.css")
    assert status == 200 and b".card" in body


# --- WebSockets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/", "/", "/ws/chat/extra/", "/ws/%00/", "/" + "x" * 5000])
@pytest.mark.django_db(transaction=True)
async def test_a_websocket_to_an_unknown_path_is_refused_with_4404(django_user_model, path):
    from channels.db import database_sync_to_async

    user = await database_sync_to_async(django_user_model.objects.create_user)("wsuser", password="x-pass-1234")
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(application, f"{path}?token={token.key}", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected  # accepted only so the close code reaches the client
    message = await communicator.receive_output(5)
    assert message == {"type": "websocket.close", "code": UNKNOWN_ROUTE_CLOSE_CODE}
    await communicator.wait()


# --- Host header ------------------------------------------------------------------------------------


async def _request_with_host(path: str, host: bytes) -> tuple[int, bytes]:
    _, status, _, body = await asgi_call(application, http_scope(path, host=host, client=("203.0.113.7", 50000)))
    return status, body


HOSTILE_HOSTS = pytest.mark.parametrize("host", [
    b"a" * 20_000 + b".example", b"evil.example", b"testserver@evil.example", b"testserver\r\nX-Injected: 1",
    b"\xff\xfe\xfd", b"", b"[::1", b"testserver:80:80",
], ids=["overlong", "foreign", "userinfo", "crlf", "not-utf8", "empty", "broken-ipv6", "two-ports"])


@HOSTILE_HOSTS
@pytest.mark.parametrize("path", ["/api/v1/chat/conversations", "/accounts/login/", "/links/"])
@pytest.mark.django_db
async def test_a_hostile_host_header_is_a_400_on_the_api_and_pages(host, path):
    status, body = await _request_with_host(path, host)
    assert status == 400, (status, body[:200])
    assert b"Traceback" not in body and b"SECRET_KEY" not in body


@HOSTILE_HOSTS
@pytest.mark.django_db
async def test_a_hostile_host_header_on_a_short_code_is_never_a_server_error(host):
    # Redirects do not depend on the Host (the target is stored), so they may still answer.
    status, body = await _request_with_host("/abc1234", host)
    assert status < 500 and b"Traceback" not in body
