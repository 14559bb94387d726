"""Driving the project's ASGI application with raw HTTP messages (what a server such as uvicorn sends)."""

import asyncio

from config.asgi import application


async def asgi_http(method: str, path: str, *, query: bytes = b"", body: bytes = b"", headers: list | None = None,
                    client: tuple = ("203.0.113.9", 50000)) -> tuple[int, dict, bytes]:
    """(status, headers with lower-case names, body) of one request through ``config.asgi.application``."""
    chunks = [body]
    sent = []
    finished = asyncio.Event()

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(), "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            finished.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode()), *(headers or [])],
        "client": client, "server": ("testserver", 80),
    }
    await application(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return (start["status"], {k.lower(): v for k, v in start["headers"]},
            b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
