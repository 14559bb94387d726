"""The cached redirect's own cost, in-process: no HTTP server, no load generator, one event loop.

``python -m bench shortener_inproc`` boots Django in this process (a fresh ``DATA_DIR``, the
embedded Redis unless ``BENCH_REDIS_URL`` is set), puts one plain link in the cache, starts the
application's lifespan as uvicorn does, and then calls the ASGI application (``core.asgi.HotPathRouter`` with the project's hot handlers, exactly what
uvicorn calls) 64 requests at a time on one uvloop event loop, as a worker under 64 connections
does. Every request is a browser GET, so every one records a click (stream entry + counter).

The same loop also times a bare handler that only answers 302, called directly (the floor:
scope, task, ASGI messages, the loop) and through the router (its dispatch and metrics), and the
redirect handler called directly, in alternating rounds, so load from other processes hits all
of them alike. The figures are µs per
request (wall time, this process's CPU time and the Redis server's); compare the ratio to the bare handler across
runs, never the absolute µs. Nothing consumes the stream meanwhile: it is emptied between rounds.

Env: ``INPROC_REQUESTS`` per round (default 20,000), ``INPROC_ROUNDS`` (default 7),
``BENCH_REDIS_URL`` to use another Redis (a database of your own: it is flushed).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time

CONCURRENCY = 64
UA = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
CODE = "inprocbench"
LOCATION = "https://example.com/inproc"


def _setup_django() -> None:
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="shortener-inproc-"))
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if os.environ.get("BENCH_REDIS_URL"):
        os.environ["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    os.environ.pop("DATABASE_URL", None)  # the cached redirect never reads the database
    import django

    django.setup()


def _scope(path: str) -> dict:
    # What uvicorn hands the application for one keep-alive GET: a new dict per request.
    return {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50123), "scheme": "http",
        "method": "GET", "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", UA), (b"accept", b"*/*")],
    }


async def _receive():
    return {"type": "http.request", "body": b"", "more_body": False}


class _Sink:
    """The server's ``send``: keeps the status of the last response."""

    __slots__ = ("status",)

    def __init__(self):
        self.status = 0

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]


_BARE_HEADERS = [(b"location", LOCATION.encode()), (b"cache-control", b"no-store"), (b"content-length", b"0")]


async def bare_302(scope, receive, send) -> int:
    """The floor: answers every request with a fixed 302 and does nothing else."""
    await send({"type": "http.response.start", "status": 302, "headers": _BARE_HEADERS})
    await send({"type": "http.response.body", "body": b""})
    return 302


def _redis_cpu_seconds() -> float:
    from core.redis import get_redis

    info = get_redis().info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def _round(app, path: str, requests: int) -> tuple[float, float, float]:
    """µs per request: wall time, this process's CPU time, and the Redis server's CPU time."""
    sinks = [_Sink() for _ in range(CONCURRENCY)]
    redis_cpu = _redis_cpu_seconds()
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    for _ in range(requests // CONCURRENCY):
        await asyncio.gather(*(app(_scope(path), _receive, sink) for sink in sinks))
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    redis_cpu = _redis_cpu_seconds() - redis_cpu
    if any(sink.status != 302 for sink in sinks):
        raise RuntimeError(f"{app!r} did not answer 302: {[sink.status for sink in sinks][:4]}")
    done = requests // CONCURRENCY * CONCURRENCY
    return wall / done * 1e6, cpu / done * 1e6, redis_cpu / done * 1e6


def _warm_cache() -> None:
    from shortener import store

    store.cache_invalidate(CODE)
    token = store.lease_acquire(CODE)
    store.cache_fill(CODE, token, store.CachedLink(
        long_url=LOCATION, redirect_type=302, expires_at=None, state="active", has_password=False, max_clicks=None,
    ))


def _empty_click_keys() -> None:
    from core.redis import get_redis
    from shortener import store

    get_redis().delete(store.CLICK_STREAM_KEY, store.CLICK_COUNTS_KEY)


async def _lifespan_startup(app) -> asyncio.Task:
    """What uvicorn does before serving: the application's lifespan startup (left running)."""
    inbox: asyncio.Queue = asyncio.Queue()
    started = asyncio.Event()
    await inbox.put({"type": "lifespan.startup"})

    async def send(message):
        if message["type"] == "lifespan.startup.complete":
            started.set()

    task = asyncio.get_running_loop().create_task(app({"type": "lifespan"}, inbox.get, send))
    await started.wait()
    return task


async def _measure(requests: int, rounds: int) -> dict[str, list[tuple[float, float, float]]]:
    from config.asgi import application
    from core.asgi import HotPathRouter
    from shortener.redirect import hot

    lifespan = await _lifespan_startup(application)

    bare_router = HotPathRouter(application.app, handlers=[f"{__name__}.bare_302"])
    contenders = {
        "bare 302 handler, called directly": bare_302,
        "bare 302 handler, through the router": bare_router,
        "redirect handler, called directly": hot.handle,
        "redirect through the ASGI application": application,
    }
    path = f"/{CODE}"
    for app in contenders.values():  # warm up: connection, script cache, memoised user agent
        await _round(app, path, CONCURRENCY * 20)
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, app in contenders.items():
            _empty_click_keys()
            results[name].append(await _round(app, path, requests))
    _empty_click_keys()
    lifespan.cancel()
    return results


def main() -> None:
    _setup_django()
    import uvloop

    from bench.common import log, report

    requests = int(os.environ.get("INPROC_REQUESTS", "20000"))
    rounds = int(os.environ.get("INPROC_ROUNDS", "7"))
    _warm_cache()
    log(f"{rounds} rounds of {requests:,} requests, {CONCURRENCY} at a time, per contender")
    results = uvloop.run(_measure(requests, rounds))
    floor = statistics.median(wall for wall, _, _ in results["bare 302 handler, called directly"])
    rows = []
    for name, samples in results.items():
        walls = [wall for wall, _, _ in samples]
        median = statistics.median(walls)
        rows.append({
            "name": name, "us_per_request": round(median, 2), "best_us": round(min(walls), 2),
            "cpu_us": round(statistics.median(cpu for _, cpu, _ in samples), 2),
            "redis_cpu_us": round(statistics.median(redis for _, _, redis in samples), 2),
            "times_bare": round(median / floor, 2),
        })
    report(f"shortener cached redirect in-process ({CONCURRENCY} at a time, {rounds} x {requests:,})", rows)


if __name__ == "__main__":
    main()
