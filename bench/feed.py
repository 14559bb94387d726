"""News feed speed targets (issue 10), each against a baseline measured in the same run.

``python -m bench feed`` (env: BENCH_DURATION seconds per wrk run, default 10; FEED_BENCH_SCALE=small
for a quick run with a tenth of the accounts; BENCH_DATABASE_URL / BENCH_REDIS_URL to run against
PostgreSQL + Redis instead of the embedded default).

1. Fan-out: deliveries/s end to end (follower ids read from the database → pipelined pushes into
   Redis timelines) for an author with 50,000 active followers (target ≥ 25,000/s), as a ratio to
   ``redis-benchmark`` pipelined ZADD on the same Redis.
2. Post → visible in a follower's home timeline (API post, Celery fan-out, hot-path read): p99 for a
   500-follower author with an idle queue (target ≤ 1 s), and the last of 10,000 followers (≤ 2 s).
3. Home timeline read, 20 posts, reader following 500 accounts of whom 20 are celebrities, at 64
   connections: ratio to nginx ``return 302`` (target ≥ 0.02), p99 (≤ 50 ms), and Redis memory per
   timeline.

Data comes from ``manage.py feed_seed``; every seeded reader is active, so pushes reach them all.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import time
import urllib.parse
import urllib.request

from bench.common import PYTHON, ROOT, ensure_debian_tools, log, nginx_302_baseline, project_server, report, wrk

READ_CONNECTIONS = 64
FULL = {"fanout_followers": 50_000, "latency_followers": 500, "last_followers": 10_000, "read_users": 600,
        "read_follows": 500, "celebrities": 20, "latency_posts": 100}
SMALL = {"fanout_followers": 5_000, "latency_followers": 100, "last_followers": 1_000, "read_users": 120,
         "read_follows": 100, "celebrities": 20, "latency_posts": 20}
UNLIMITED = str(10**9)

_FANOUT = """
import json, time
from django.contrib.auth import get_user_model
from feed.models import Status
from feed.services.fanout import status_fanout
author = get_user_model().objects.get(username="fan0")
# A worker is long-lived: one fan-out first, so the process's first connections, script loads and
# imports are not counted as delivery time.
status_fanout(status_id=Status.objects.create(account=author, text="fan-out warm-up").id)
status = Status.objects.create(account=author, text="fan-out bench")
started = time.perf_counter()
delivered = status_fanout(status_id=status.id)
print("RESULT", json.dumps({"deliveries": delivered, "seconds": time.perf_counter() - started}))
"""

_TOKENS = """
import json
from django.contrib.auth import get_user_model
from core.services import token_for
names = %(names)r
users = get_user_model().objects.in_bulk(names, field_name="username")
print("RESULT", json.dumps({name: token_for(users[name]).key for name in names}))
"""

_MEMORY = """
import json
from django.contrib.auth import get_user_model
from core.redis import get_redis
from feed import store
ids = list(get_user_model().objects.filter(username__startswith="rd").values_list("id", flat=True)[:%(n)d])
client = get_redis()
sizes = [client.memory_usage(store.timeline_key(i)) or 0 for i in ids]
entries = [client.zcard(store.timeline_key(i)) for i in ids]
extras = [(client.memory_usage(store.timeline_reblogs_key(i)) or 0)
          + (client.memory_usage(store.celebrities_key(i)) or 0) for i in ids]
# The reader's state (favourites, reblogs, hidden accounts) of the readers that read (built).
viewers = [(client.memory_usage(store.viewer_key(i)) or 0) + (client.memory_usage(store.viewer_hidden_key(i)) or 0)
           for i in ids if client.hexists(store.viewer_key(i), store.VIEWER_BUILT)]

def cached(pattern):
    sizes = [client.memory_usage(k) or 0 for k in client.scan_iter(match=pattern, count=1000)]
    return {"count": len(sizes), "bytes": sum(sizes) / len(sizes) if sizes else 0}

print("RESULT", json.dumps({"timelines": len(ids), "bytes": sum(sizes) / len(ids), "entries": sum(entries) / len(ids),
                            "extra_bytes": sum(extras) / len(ids), "viewer_bytes": sum(viewers) / max(1, len(viewers)),
                            "statuses": cached("feed:entity:status:*"), "accounts": cached("feed:entity:account:*")}))
"""


def _result(output: str):
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT ")).split(" ", 1)[1])


def _manage(server, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env={**server.env, **(env or {})},
                            capture_output=True, text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def _seed(server, prefix: str, *, users: int, follows: int = 0, posts: int = 1, popular: int = 0,
          threshold: int | None = None) -> float:
    started = time.perf_counter()
    env = {"FEED_CELEBRITY_THRESHOLD": str(threshold)} if threshold is not None else None
    _manage(server, "feed_seed", "--users", str(users), "--follows-per-user", str(follows), "--posts-per-user",
            str(posts), "--popular", str(popular), "--prefix", prefix, "--no-progress", env=env)
    seconds = time.perf_counter() - started
    log(f"seeded {prefix}: {users:,} users, {follows} follows each, {popular} popular in {seconds:.1f}s")
    return seconds


def _tokens(server, names: list[str]) -> dict[str, str]:
    return _result(server.manage("shell", "-c", _TOKENS % {"names": names}))


def _api(server, method: str, path: str, token: str, payload: dict | None = None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(f"{server}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _redis_target(server) -> list[str]:
    url = server.env.get("REDIS_URL")
    if not url:
        return ["-s", str(server.data_dir / "redis.sock")]
    parts = urllib.parse.urlsplit(url)
    target = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
    return [*target, "-a", parts.password] if parts.password else target


def redis_zadd_baseline(server, *, requests: int = 500_000, pipeline: int = 64) -> float:
    """Pipelined ZADD/s from ``redis-benchmark`` on the project's Redis, now."""
    ensure_debian_tools("redis-benchmark")
    output = subprocess.run(
        ["redis-benchmark", *_redis_target(server), "-n", str(requests), "-P", str(pipeline), "-r", "100000", "-q",
         "ZADD", "bench:feed:zadd", "0", "member:__rand_int__"],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"([\d.]+) requests per second", output)
    if not match:
        raise RuntimeError(f"could not parse redis-benchmark output: {output!r}")
    return float(match.group(1))


def _visible_after(server, author_token: str, reader_token: str, text: str, *, timeout: float = 10.0) -> float:
    """Seconds from the post request to the post heading the reader's home timeline (polled)."""
    started = time.perf_counter()
    status_id = _api(server, "POST", "/api/v1/statuses", author_token, {"status": text})["id"]
    while time.perf_counter() - started < timeout:
        page = _api(server, "GET", "/api/v1/timelines/home?limit=1", reader_token)
        if page and page[0]["id"] == status_id:
            return time.perf_counter() - started
        time.sleep(0.002)
    raise TimeoutError(f"post {status_id} not visible after {timeout}s")


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]


def main() -> None:
    ensure_debian_tools("nginx", "wrk", "redis-benchmark")
    scale = SMALL if os.environ.get("FEED_BENCH_SCALE") == "small" else FULL
    duration = int(os.environ.get("BENCH_DURATION", "10"))
    env = {"FEED_CELEBRITY_THRESHOLD": UNLIMITED, "FEED_API_PER_5MIN": UNLIMITED, "FEED_STATUSES_PER_3H": UNLIMITED}
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    backend = "PostgreSQL + Redis" if "DATABASE_URL" in env else "embedded SQLite + Redis"

    nginx = nginx_302_baseline(connections=READ_CONNECTIONS, duration=duration)
    log(f"nginx: {nginx.rps:,.0f} req/s")
    with project_server(env=env, workers=2, celery=True) as server:
        # -- 1. fan-out -------------------------------------------------------------------------
        followers = scale["fanout_followers"]
        seed_seconds = _seed(server, "fan", users=followers + 1, popular=1)
        runs = [_result(server.manage("shell", "-c", _FANOUT)) for _ in range(3)]
        best = max(runs, key=lambda r: r["deliveries"] / r["seconds"])
        deliveries_per_s = best["deliveries"] / best["seconds"]
        zadd = redis_zadd_baseline(server)
        log(f"fan-out: {deliveries_per_s:,.0f} deliveries/s; redis-benchmark ZADD {zadd:,.0f}/s")
        fanout_rows = [
            {"name": f"fan-out to {followers:,} active followers", "deliveries": best["deliveries"],
             "seconds": round(best["seconds"], 3), "per_s": round(deliveries_per_s), "target": ">= 25,000/s",
             "ratio_to_zadd": round(deliveries_per_s / zadd, 3)},
            {"name": "redis-benchmark ZADD (pipeline 64)", "per_s": round(zadd), "ratio_to_zadd": 1.0},
            {"name": f"feed_seed of {followers + 1:,} users and {followers:,} follows", "seconds": round(seed_seconds, 1)},
        ]
        report(f"Feed fan-out ({backend})", fanout_rows)

        # -- 2. post → visible ----------------------------------------------------------------
        small, large = scale["latency_followers"], scale["last_followers"]
        _seed(server, "lat", users=small + 1, popular=1)
        _seed(server, "big", users=large + 1, popular=1)
        tokens = _tokens(server, ["lat0", "lat1", f"lat{small}", "big0", f"big{large}"])
        for reader in ("lat1", f"lat{small}", f"big{large}"):  # a first read records the reader's activity
            _api(server, "GET", "/api/v1/timelines/home?limit=1", tokens[reader])
        samples = [_visible_after(server, tokens["lat0"], tokens[f"lat{small}" if i % 2 else "lat1"], f"latency {i}")
                   for i in range(scale["latency_posts"])]
        last = [_visible_after(server, tokens["big0"], tokens[f"big{large}"], f"to the last follower {i}")
                for i in range(5)]
        latency_rows = [
            {"name": f"post → visible, {small:,}-follower author", "posts": len(samples),
             "p50_ms": round(statistics.median(samples) * 1000, 1), "p99_ms": round(_p99(samples) * 1000, 1),
             "target": "p99 <= 1,000 ms"},
            {"name": f"post → visible to the last of {large:,} followers", "posts": len(last),
             "p50_ms": round(statistics.median(last) * 1000, 1), "max_ms": round(max(last) * 1000, 1),
             "target": "<= 2,000 ms"},
        ]
        report(f"Feed post to home timeline ({backend})", latency_rows)

        # -- 3. home timeline reads -------------------------------------------------------------
        users, follows, celebrities = scale["read_users"], scale["read_follows"], scale["celebrities"]
        # Celebrities: the popular accounts (followed by everyone) cross a threshold set for this seed.
        _seed(server, "rd", users=users, follows=follows, posts=3, popular=celebrities, threshold=users - 2)
        reader = f"rd{celebrities}"
        token = _tokens(server, [reader])[reader]
        first = _api(server, "GET", "/api/v1/timelines/home", token)  # Django records the activity
        assert len(first) == 20, len(first)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        url = f"{server}/api/v1/timelines/home"
        wrk(url, connections=READ_CONNECTIONS, duration=2, headers=headers)  # warm up
        read = wrk(url, connections=READ_CONNECTIONS, duration=duration, headers=headers)
        memory = _result(server.manage("shell", "-c", _MEMORY % {"n": 50}))
        log(f"home read: {read.rps:,.0f} req/s p99 {read.p99_ms} ms; {memory['bytes']:,.0f} bytes per timeline")
        report(f"Feed home timeline read ({backend})", [
            nginx.row("nginx return 302", ratio=1.0),
            read.row(f"home, 20 posts, {follows} followed ({celebrities} celebrities)",
                     ratio=round(read.rps / nginx.rps, 4), target="ratio >= 0.02, p99 <= 50 ms"),
            {"name": f"Redis per timeline ({memory['entries']:.0f} entries)", "bytes": round(memory["bytes"]),
             "with_reblog_map_and_celebrity_set": round(memory["bytes"] + memory["extra_bytes"]),
             "with_reader_state": round(memory["bytes"] + memory["extra_bytes"] + memory["viewer_bytes"])},
            {"name": f"Redis per cached status ({memory['statuses']['count']:,} cached)",
             "bytes": round(memory["statuses"]["bytes"])},
            {"name": f"Redis per cached account ({memory['accounts']['count']:,} cached)",
             "bytes": round(memory["accounts"]["bytes"])},
        ])
