"""Driving the project's ASGI application with raw HTTP messages (what a server such as uvicorn sends)."""

from config.asgi import application
from tests.fixtures.asgi import asgi_call, http_scope


async def asgi_http(method: str, path: str, *, query: bytes = b"", body: bytes = b"", headers: list | None = None,
                    client: tuple = ("203.0.113.9", 50000)) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request through ``config.asgi.application``."""
    scope = http_scope(path, method=method, query=query, client=client,
                       headers=[(b"content-length", str(len(body)).encode()), *(headers or [])])
    _, status, response_headers, response_body = await asgi_call(application, scope, body)
    return status, response_headers, response_body
