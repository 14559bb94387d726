"""The in-process cost of a warm home timeline read, steady under a loaded machine.

``python -m bench feed_inprocess`` (env: FEED_BENCH_SCALE=small for a tenth of the readers,
FEED_INPROCESS_READS reads per round, default 4,000).

The home-read data of ``bench/feed.py`` is seeded in a fresh DATA_DIR (embedded SQLite + Redis); the
reader's first read goes through Django (it records the activity and fills what the hot path reads),
then ``feed.hot.handle_home`` is called in a loop, 64 reads at a time on one event loop, without HTTP.
Reported per read: the CPU time of this process (the handler, its Redis client, any worker thread)
and of the Redis server (``INFO cpu``), which stay put when other work shares the cores, and the wall
time, which does not. Best of three rounds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile

from bench.common import PYTHON, ROOT, log, report

SCALES = {"full": {"users": 600, "follows": 500}, "small": {"users": 120, "follows": 100}}
CELEBRITIES = 20
CONCURRENCY = 64

_MEASURE = """
import asyncio, json, time
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from core.redis import get_redis
from core.services import token_for
from feed import hot

reader = get_user_model().objects.get(username="rd%(celebrities)d")
key = token_for(reader).key
client = APIClient()
client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
assert client.get("/api/v1/timelines/home").status_code == 200  # through Django: activity, caches
scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
         "path": "/api/v1/timelines/home", "raw_path": b"/api/v1/timelines/home", "query_string": b"",
         "root_path": "", "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {key}".encode())],
         "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
answered = {}
body_bytes = []

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    if message["type"] == "http.response.start":
        answered[message["status"]] = answered.get(message["status"], 0) + 1
    elif not body_bytes:
        body_bytes.append(len(message["body"]))

async def reads(n):
    for start in range(0, n, %(concurrency)d):
        statuses = await asyncio.gather(*(hot.handle_home(scope, receive, send)
                                          for _ in range(min(%(concurrency)d, n - start))))
        assert all(s == 200 for s in statuses), statuses

def redis_cpu():
    info = get_redis().info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]

async def main(n):
    await reads(200)  # warm: connections, scripts, imports
    rounds = []
    for _ in range(3):
        cpu, redis, wall = time.process_time(), redis_cpu(), time.perf_counter()
        await reads(n)
        rounds.append({"cpu_us": (time.process_time() - cpu) / n * 1e6,
                       "redis_us": (redis_cpu() - redis) / n * 1e6,
                       "wall_us": (time.perf_counter() - wall) / n * 1e6})
    return rounds

rounds = asyncio.run(main(%(reads)d))
print("RESULT", json.dumps({"rounds": rounds, "statuses": answered, "body_bytes": body_bytes[0]}))
"""


def _run(env: dict, *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    scale = os.environ.get("FEED_BENCH_SCALE", "full")
    users, follows = SCALES[scale]["users"], SCALES[scale]["follows"]
    reads = int(os.environ.get("FEED_INPROCESS_READS", "4000"))
    data_dir = tempfile.mkdtemp(prefix="bench-feed-inprocess-")
    env = {**{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
           "DATA_DIR": data_dir, "DEBUG": "0", "SECRET_KEY": "bench-" + os.urandom(8).hex(), "LOG_LEVEL": "WARNING",
           "FEED_API_PER_5MIN": str(10**9), "FEED_CELEBRITY_THRESHOLD": str(users - 2)}
    try:
        _run(env, "migrate", "--noinput", "-v", "0")
        _run(env, "feed_seed", "--users", str(users), "--follows-per-user", str(follows), "--posts-per-user", "3",
             "--popular", str(CELEBRITIES), "--prefix", "rd", "--no-progress")
        output = _run(env, "shell", "-c", _MEASURE % {"celebrities": CELEBRITIES, "concurrency": CONCURRENCY,
                                                      "reads": reads})
        result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT ")).split(" ", 1)[1])
    finally:
        pid_file = os.path.join(data_dir, "redis.pid")
        if os.path.exists(pid_file):  # the embedded Redis of this DATA_DIR
            with open(pid_file) as handle, contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(handle.read().strip()), signal.SIGTERM)
        shutil.rmtree(data_dir, ignore_errors=True)
    best = min(result["rounds"], key=lambda r: r["cpu_us"] + r["redis_us"])
    log(f"home read in process: {best['cpu_us']:.0f} µs CPU + {best['redis_us']:.0f} µs Redis per read")
    report(f"Feed home read in process ({scale}: {follows} followed, {CELEBRITIES} celebrities)", [
        {"name": "hot handler, 20 posts", "reads": reads, "process_cpu_us": round(best["cpu_us"], 1),
         "redis_cpu_us": round(best["redis_us"], 1), "wall_us": round(best["wall_us"], 1),
         "body_bytes": result["body_bytes"]},
    ])
