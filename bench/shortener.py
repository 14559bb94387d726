"""URL shortener speed targets (issue 3), measured against nginx in the same run.

``python -m bench shortener`` (env: BENCH_DURATION seconds per wrk run, default 10;
BENCH_DATABASE_URL / BENCH_REDIS_URL to run against PostgreSQL + Redis instead of the
embedded default).

1. Redirect of a cached link (click recorded) at 64 connections: ratio to nginx `return 302`,
   p99; the same for first hits of uncached links and for an unknown code (negatively cached,
   from many client addresses so the per-IP limit on unknown codes is not what is measured;
   target: at least half the cached-redirect throughput).
2. Creation: links/s through POST /api/v1/shorten at 32 concurrent clients.
3. Pipeline: a burst of 20,000 redirects, then the time until every click is a row in the
   database (none lost: rows == redirects counted; none duplicated: distinct stream ids == rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.common import PYTHON, ROOT, ensure_debian_tools, log, nginx_302_baseline, project_server, report, wrk

REDIRECT_CONNECTIONS = 64
CREATE_CONNECTIONS = 32
BURST = 20_000
PIPELINE_DEADLINE = 10.0
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


def _post_json(url: str, payload: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _get_status(url: str) -> int:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


UNCACHED_LINKS = 30_000
UNCACHED_SETUP = """
from datetime import timedelta
from django.utils import timezone
from core import base62
from core.snowflake import next_id
from shortener.models import Link
now = timezone.now()
ids = [next_id() for _ in range(%(n)d)]
Link.objects.bulk_create(
    [Link(id=i, short_code=base62.encode(i), long_url=f"https://example.com/u/{i}", created_at=now,
          expires_at=now + timedelta(days=30), tags="|uncached|") for i in ids],
    batch_size=500,
)
print("CODES", *[base62.encode(i) for i in ids])
"""

# Each request from its own client address (the server trusts 127.0.0.1 as a proxy): the per-IP
# limit on unknown codes stays out of the way, so the 404 answer itself is measured.
_UNKNOWN_LUA = """
request = function()
  wrk.headers["X-Forwarded-For"] = "10." .. math.random(0, 255) .. "." .. math.random(0, 255) .. "."
    .. math.random(1, 254)
  return wrk.format("GET", "/no-such-code")
end
"""

_CREATE_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Token %(token)s"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, "/api/v1/shorten", nil,
    '{"long_url": "https://example.com/bench/' .. n .. '", "tags": ["bench"]}')
end
"""

# Each wrk thread walks its own slice of the codes: every request is a first hit (a cache miss).
_UNCACHED_LUA = """
local codes = {%(codes)s}
local threads = {}
local counter = 1
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  index = (id - 1) * math.floor(#codes / 2)
end
request = function()
  index = index + 1
  return wrk.format("GET", "/" .. codes[(index %% #codes) + 1])
end
"""

async def _burst_connection(host: str, port: int, path: str, count: int, statuses: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {UA}\r\n\r\n").encode()
    try:
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            statuses.append(status)
    finally:
        writer.close()


def redirect_burst(url: str, total: int, connections: int) -> tuple[float, list[int]]:
    """``total`` keep-alive GETs over ``connections`` connections, as fast as the server answers."""
    parts = urllib.parse.urlsplit(url)
    statuses: list[int] = []
    per_connection = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]

    async def run():
        await asyncio.gather(*(
            _burst_connection(parts.hostname, parts.port, parts.path, n, statuses) for n in per_connection
        ))

    started = time.monotonic()
    asyncio.run(run())
    return time.monotonic() - started, statuses


class Counter:
    """Reads click rows straight from the server's database (SQLite file or PostgreSQL)."""

    def __init__(self, server):
        self.database_url = server.env.get("DATABASE_URL", "")
        self.sqlite_path = Path(server.data_dir) / "db.sqlite3"

    def clicks(self, code: str) -> tuple[int, int, int]:
        """(rows, distinct stream ids, flushed click_count) for ``code``."""
        sql = (
            "SELECT count(*), count(DISTINCT c.stream_id), max(l.click_count) FROM shortener_link l "
            "LEFT JOIN shortener_click c ON c.link_id = l.id WHERE l.short_code = %s"
        )
        if self.database_url:
            import psycopg

            with psycopg.connect(self.database_url) as conn:
                return tuple(conn.execute(sql, [code]).fetchone())
        with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=30)) as conn:
            return tuple(conn.execute(sql.replace("%s", "?"), [code]).fetchone())


@contextlib.contextmanager
def celery_beat(server):
    log_file = open(Path(server.data_dir) / "beat.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(Path(PYTHON).parent / "celery"), "-A", "config", "beat", "--loglevel", "WARNING"],
        cwd=ROOT, env=server.env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
        log_file.close()


def main() -> None:
    ensure_debian_tools("nginx", "wrk")
    duration = int(os.environ.get("BENCH_DURATION", "10"))
    env = {}
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    backend = "PostgreSQL + Redis" if env else "embedded SQLite + Redis"
    # One bench user creates all the links: measure creation throughput, not the per-user limit.
    env["SHORTENER_CREATE_PER_MINUTE"] = str(10**9)

    nginx = nginx_302_baseline(connections=REDIRECT_CONNECTIONS, duration=duration)
    log(f"nginx: {nginx.rps:,.0f} req/s")
    redirect_rows = [nginx.row("nginx return 302", ratio=1.0)]
    env["TRUSTED_PROXIES"] = "127.0.0.1"  # wrk's X-Forwarded-For spreads unknown codes over many clients
    with project_server(env=env, workers=2, celery=True) as server, celery_beat(server):
        user = f"bench{int(time.time())}"
        token = _post_json(f"{server}/api/v1/auth/register", {"username": user, "password": "bench-Passphrase-42"})[
            "token"]

        # -- creation -------------------------------------------------------------------------
        lua = _CREATE_LUA % {"token": token}
        wrk(server, connections=CREATE_CONNECTIONS, duration=2, lua=lua)  # warm up
        created = wrk(server, connections=CREATE_CONNECTIONS, duration=duration, lua=lua)
        log(f"creation: {created.rps:,.0f} links/s, {created.non_2xx_3xx} non-2xx")
        creation_rows = [created.row(f"POST /api/v1/shorten ({CREATE_CONNECTIONS} clients)",
                                     links_per_s=round(created.rps), target=">= 1,000")]

        # -- redirects ------------------------------------------------------------------------
        hot = _post_json(f"{server}/api/v1/shorten", {"long_url": "https://example.com/hot"}, token)["short_code"]
        assert _get_status(f"{server}/{hot}") == 302
        headers = {"User-Agent": UA}
        wrk(f"{server}/{hot}", connections=REDIRECT_CONNECTIONS, duration=2, headers=headers)
        cached = wrk(f"{server}/{hot}", connections=REDIRECT_CONNECTIONS, duration=duration, headers=headers)
        redirect_rows.append(cached.row("cached link, click recorded", ratio=round(cached.rps / nginx.rps, 3)))
        log(f"cached: {cached.rps:,.0f} req/s p99 {cached.p99_ms} ms")

        # More links than the run can request, so every request is a first hit (a cache miss).
        codes = server.manage("shell", "-c", UNCACHED_SETUP % {"n": UNCACHED_LINKS})
        codes = next(line for line in codes.splitlines() if line.startswith("CODES")).split()[1:]
        uncached_lua = _UNCACHED_LUA % {"codes": ",".join(f'"{c}"' for c in codes)}
        uncached = wrk(server, connections=REDIRECT_CONNECTIONS, duration=duration, headers=headers, lua=uncached_lua)
        redirect_rows.append(uncached.row(f"uncached links (first hits of {len(codes):,} codes)",
                                          ratio=round(uncached.rps / nginx.rps, 3)))
        log(f"uncached: {uncached.rps:,.0f} req/s")
        if uncached.non_2xx_3xx:
            errors = [line for line in (Path(server.data_dir) / "web.log").read_text().splitlines() if "Error" in line]
            log(f"uncached non-3xx answers; server errors logged: {errors[-5:]}")

        assert _get_status(f"{server}/no-such-code") == 404
        unknown = wrk(server, connections=REDIRECT_CONNECTIONS, duration=duration, headers=headers, lua=_UNKNOWN_LUA)
        redirect_rows.append(unknown.row("unknown code (negative cache, 404 page)",
                                         ratio=round(unknown.rps / nginx.rps, 3),
                                         of_cached=round(unknown.rps / cached.rps, 3), target_of_cached=">= 0.5"))
        log(f"unknown: {unknown.rps:,.0f} req/s ({unknown.rps / cached.rps:.2f} of cached), "
            f"{unknown.non_2xx_3xx} non-2xx/3xx (404s expected)")

        # -- pipeline -------------------------------------------------------------------------
        burst_code = _post_json(f"{server}/api/v1/shorten", {"long_url": "https://example.com/burst"}, token)[
            "short_code"]
        counter = Counter(server)
        time.sleep(3)  # let earlier clicks drain so the burst starts on an idle consumer
        burst_seconds, statuses = redirect_burst(f"{server}/{burst_code}", BURST, REDIRECT_CONNECTIONS)
        burst_end = time.monotonic()
        redirected = statuses.count(302)
        rows = distinct = flushed = 0
        last_change = burst_end
        while time.monotonic() - burst_end < 60:
            current = counter.clicks(burst_code)
            if current[0] != rows:
                last_change = time.monotonic()
            rows, distinct, flushed = current
            if rows and flushed == rows and time.monotonic() - last_change > 3:
                break  # every counted redirect has its row, and nothing moved for 3 s
            time.sleep(0.1)
        caught_up = last_change - burst_end
        log(f"burst: {redirected} redirects in {burst_seconds:.1f}s; rows {rows} distinct {distinct} "
            f"click_count {flushed}; caught up {caught_up:.2f}s after the burst")
        pipeline_rows = [{
            "name": f"burst of {redirected:,} redirects ({REDIRECT_CONNECTIONS} connections)",
            "burst_s": round(burst_seconds, 2),
            "redirects_counted": flushed, "click_rows": rows, "distinct_stream_ids": distinct,
            "all_rows_after_s": round(caught_up, 2),
            "target": f"all within {PIPELINE_DEADLINE:.0f} s, none lost or duplicated",
        }]

    report(f"shortener redirects at {REDIRECT_CONNECTIONS} connections, {backend} ({duration}s runs)", redirect_rows)
    report(f"shortener creation, {backend}", creation_rows)
    report(f"shortener click pipeline, {backend}", pipeline_rows)


if __name__ == "__main__":
    main()
