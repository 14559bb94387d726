"""Ride dispatch speed targets (issue 11), with baselines taken in the same run.

``python -m bench rides`` (env: ``BENCH_DURATION`` seconds per wrk run, default 10;
``RIDES_BENCH_DRIVERS`` online drivers, default 100,000; ``RIDES_BENCH_REQUESTS`` recent
requests for surge, default 10,000; ``RIDES_BENCH_INGEST_DRIVERS`` drivers posting locations
through HTTP, default 200; ``BENCH_DATABASE_URL`` / ``BENCH_REDIS_URL`` for PostgreSQL + Redis).

1. Location ingest: driver positions written per second through ``POST /api/v1/rides/driver/location``
   (batch form, 50 points a request; each request moves one driver) and at the store layer
   (``store.drivers_put``, ``RIDES_BENCH_STORE_BATCH`` drivers a pipeline, default 1,000: one GEOADD
   and one ZADD per batch; one client), as a ratio to ``redis-benchmark`` GEOADD against the same
   Redis (50 clients, no pipelining).
2. Nearest 10 of the online drivers: p99 of ``selectors.nearby_drivers`` in-process and of
   ``GET /api/v1/rides/drivers/nearby`` through HTTP (wrk).
3. Surge recompute over every online driver and the recent requests (one full ``surge_recompute``).
4. Batched assignment of 200 requests × 2,000 drivers (ETA matrix + Hungarian method).
5. Location frames on the drivers' sockets (``/ws/rides/driver/``), all ingest drivers at once
   (``RIDES_BENCH_WS_FRAMES`` each, default 500): frames processed per second.
6. Request → ``ride.offer`` frame on the driver's socket (``RIDES_BENCH_OFFERS`` sequential rides,
   default 100, dispatched by the Celery worker): p50/p99. Setup: 20 free comfort drivers within
   500 m of the pickup, so supply is not tight (``DISPATCH_BATCH_SUPPLY``, 3 by default, free
   drivers within the first radius) and each request is dispatched at once, without the
   ``DISPATCH_BATCH_SECONDS`` wait; each ride is cancelled before the next, freeing its driver.
   Riders take turns (``OFFER_RIDES_PER_RIDER`` rides each): a request without a quote prices one,
   and a rider may price 60 a minute (``RIDES_ESTIMATE_RATE_LIMIT``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.client import connect

from bench.common import ensure_debian_tools, log, project_server, report, wrk

LOCATION_POINTS = 50
LOCATION_CONNECTIONS = 32
NEARBY_CONNECTIONS = 32
NEARBY_SAMPLES = 1000
# The default service area (central San Francisco), where every bench driver is placed.
BOX = (37.70, 37.84, -122.52, -122.35)
OFFER_PICKUP = (37.7793, -122.4193)
OFFER_DROPOFF = (37.8024, -122.4058)
OFFER_DRIVERS = 20
# Rides requested per bench rider in the request -> offer row (each prices a quote, 60 a minute per rider).
OFFER_RIDES_PER_RIDER = 40
# Drivers written per round trip at the store layer (what a batch ingester would send).
STORE_BATCH = int(os.environ.get("RIDES_BENCH_STORE_BATCH", "1000"))
OFFER_SAMPLES = int(os.environ.get("RIDES_BENCH_OFFERS", "100"))
WS_FRAMES_PER_DRIVER = int(os.environ.get("RIDES_BENCH_WS_FRAMES", "500"))

# Runs inside ``manage.py shell`` with the server's settings and Redis; prints one RESULT line.
SETUP = r'''
import json, random, statistics, time
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.conf import settings
from core.services import token_for
from rides import selectors, store
from rides.models import Ride, ServiceArea
from rides.services import batching, drivers, surge

rng = random.Random(11)
lat0, lat1, lng0, lng1 = %(box)r
User = get_user_model()
area = ServiceArea.objects.get(slug="sf")

def point():
    return rng.uniform(lat0 + 0.01, lat1 - 0.01), rng.uniform(lng0 + 0.01, lng1 - 0.01)

# Drivers who post through HTTP: real users, online through the service, with tokens.
tokens = []
for i in range(%(ingest)d):
    user, _ = User.objects.get_or_create(username=f"bench-driver-{i}")
    drivers.driver_online(user=user, vehicle_type="economy", lat=point()[0], lng=point()[1])
    tokens.append(token_for(user).key)
rider, _ = User.objects.get_or_create(username="bench-rider")

# Request -> offer: comfort drivers around one pickup (the indexed crowd below is economy), one rider.
offer_tokens = []
for i in range(%(offer_drivers)d):
    user, _ = User.objects.get_or_create(username=f"bench-offer-driver-{i}")
    drivers.driver_online(user=user, vehicle_type="comfort", lat=%(pickup)r[0] + 0.001 * (i %% 5),
                          lng=%(pickup)r[1] + 0.001 * (i // 5))
    offer_tokens.append(token_for(user).key)
# Each request without a quote prices one (RIDES_ESTIMATE_RATE_LIMIT, 60 a minute per rider): riders
# take turns, so a run of sequential rides stays within it as real riders would.
offer_riders = [User.objects.get_or_create(username=f"bench-offer-rider-{i}")[0] for i in range(%(offer_riders)d)]

# Store layer: index N drivers from one client, %(store_batch)d drivers a round trip (store.drivers_put).
n = %(drivers)d
base = 10**15
started = time.perf_counter()
for first in range(0, n, %(store_batch)d):
    writes = []
    for i in range(first, min(n, first + %(store_batch)d)):
        lat, lng = point()
        now = time.time()
        writes.append(store.DriverWrite(driver_id=base + i, area="sf", vehicle_type="economy", lat=lat, lng=lng,
                                        seen=now, reindex=True,
                                        fields={"state": "free", "lat": lat, "lng": lng, "ilat": lat, "ilng": lng,
                                                "ts": now}))
    store.drivers_put(writes)
store_seconds = time.perf_counter() - started

# Nearest 10 at the selector.
samples = []
for _ in range(%(samples)d):
    lat, lng = point()
    t = time.perf_counter()
    hits = selectors.nearby_drivers(lat=lat, lng=lng, radius_m=2000, limit=10, vehicle_type="economy", exact=False)
    samples.append((time.perf_counter() - t) * 1000)
    assert len(hits) == 10, len(hits)
samples.sort()

# Surge: recent requests in the database, then one recompute over them and every online driver.
now = time.time()
Ride.objects.bulk_create([
    Ride(rider=rider, status="completed", vehicle_type="economy", service_area=area, pickup_lat=p[0], pickup_lng=p[1],
         pickup_cell=selectors.surge_cell(*p), dropoff_lat=p[0], dropoff_lng=p[1], estimated_fare=10,
         surge_multiplier=1, distance_m=1000, duration_s=300, currency="USD")
    for p in (point() for _ in range(%(requests)d))
], batch_size=2000)
t = time.perf_counter()
cells = surge.surge_recompute()
surge_seconds = time.perf_counter() - t

# Batched assignment: 200 requests x 2,000 drivers.
pickups = [point() for _ in range(200)]
fleet = [point() for _ in range(2000)]
t = time.perf_counter()
pairs = batching.assign_min_total(batching.pickup_eta_matrix(pickups, fleet))
batch_ms = (time.perf_counter() - t) * 1000

print("RESULT " + json.dumps({
    "redis_url": settings.REDIS_URL, "tokens": tokens, "rider_token": token_for(rider).key,
    "offer_tokens": offer_tokens, "offer_rider_tokens": [token_for(r).key for r in offer_riders],
    "store_puts_per_s": n / store_seconds, "drivers": n,
    "selector_p50_ms": samples[len(samples) // 2], "selector_p99_ms": samples[int(len(samples) * 0.99) - 1],
    "surge_seconds": surge_seconds, "surge_cells": len(cells), "requests": %(requests)d,
    "batch_ms": batch_ms, "batch_pairs": len(pairs),
}))
'''

LOCATION_LUA = r'''
local tokens = {%(tokens)s}
local bodies = {}
math.randomseed(7)
for b = 1, 64 do
  local points = {}
  for i = 1, %(points)d do
    points[i] = string.format('{"lat": %%.6f, "lng": %%.6f}', 37.72 + math.random() * 0.10, -122.50 + math.random() * 0.13)
  end
  bodies[b] = '{"points": [' .. table.concat(points, ",") .. ']}'
end
local n = 0
request = function()
  n = n + 1
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Token " .. tokens[(n %% #tokens) + 1]}
  return wrk.format("POST", "/api/v1/rides/driver/location", headers, bodies[(n %% #bodies) + 1])
end
'''

NEARBY_LUA = r'''
math.randomseed(5)
request = function()
  local lat = 37.72 + math.random() * 0.10
  local lng = -122.50 + math.random() * 0.13
  return wrk.format("GET", string.format("/api/v1/rides/drivers/nearby?lat=%%.5f&lng=%%.5f&limit=10&vehicle_type=economy", lat, lng))
end
'''


def redis_benchmark_geoadd(redis_url: str, *, requests: int = 200_000, clients: int = 50) -> float:
    """GEOADD/s by ``redis-benchmark`` against the same Redis, random members, no pipelining."""
    parts = urlsplit(redis_url)
    target = ["-s", parts.path] if parts.scheme == "unix" else ["-h", parts.hostname or "127.0.0.1",
                                                                 "-p", str(parts.port or 6379)]
    db = parse_qs(parts.query).get("db", [parts.path.lstrip("/") if parts.scheme != "unix" else "0"])[0] or "0"
    if parts.password:
        target += ["-a", parts.password]
    output = subprocess.run(
        ["redis-benchmark", *target, "--dbnum", db, "-n", str(requests), "-c", str(clients), "-r", "100000", "-q",
         "GEOADD", "bench:geoadd", "-122.4194", "37.7793", "driver:__rand_int__"],
        capture_output=True, text=True, check=True,
    ).stdout
    match = re.search(r"([\d.]+) requests per second", output.replace(",", ""))
    if not match:
        raise RuntimeError(f"could not parse redis-benchmark output: {output!r}")
    return float(match.group(1))


def _post(base: str, path: str, token: str, payload: dict) -> dict:
    request = urllib.request.Request(f"{base}{path}", data=json.dumps(payload).encode(), method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _socket(base: str, token: str):
    url = base.replace("http://", "ws://") + f"/ws/rides/driver/?token={token}"
    return connect(url, open_timeout=60, max_queue=None, ping_interval=None)


async def websocket_ingest(base: str, tokens: list[str], frames: int) -> dict:
    """Location frames on the drivers' sockets, all drivers at once. Each socket ends with a frame
    of an unknown type and waits for its error: frames are handled in order, so the error's arrival
    means every location before it was processed."""
    import random

    rng = random.Random(3)

    async def one(token: str) -> int:
        async with _socket(base, token) as ws:
            for _ in range(frames):
                await ws.send(json.dumps({"type": "location", "lat": 37.72 + rng.random() * 0.10,
                                          "lng": -122.50 + rng.random() * 0.13}))
            await ws.send(json.dumps({"type": "bench.done"}))
            errors = 0
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if frame.get("type") == "error":
                    if frame.get("code") == "unknown_type":
                        return errors
                    errors += 1

    started = time.perf_counter()
    errors = await asyncio.gather(*(one(token) for token in tokens))
    seconds = time.perf_counter() - started
    return {"frames": frames * len(tokens), "seconds": seconds, "errors": sum(errors)}


async def request_to_offer(base: str, driver_tokens: list[str], rider_tokens: list[str], samples: int) -> list[float]:
    """Milliseconds from a ride request (HTTP) to the ``ride.offer`` frame on a driver's socket;
    the rider cancels each ride so the drivers are free for the next."""
    sockets = [await _socket(base, token) for token in driver_tokens]
    offers: asyncio.Queue = asyncio.Queue()

    async def listen(ws) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "ride.offer":
                offers.put_nowait((time.perf_counter(), frame["ride"]))

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    latencies = []
    loop = asyncio.get_running_loop()
    try:
        for sample in range(samples):
            rider_token = rider_tokens[sample % len(rider_tokens)]
            body = {"pickup": {"lat": OFFER_PICKUP[0], "lng": OFFER_PICKUP[1]},
                    "dropoff": {"lat": OFFER_DROPOFF[0], "lng": OFFER_DROPOFF[1]}, "vehicle_type": "comfort"}
            started = time.perf_counter()
            ride = await loop.run_in_executor(None, _post, base, "/api/v1/rides", rider_token, body)
            while True:
                at, ride_id = await asyncio.wait_for(offers.get(), 30)
                if ride_id == ride["id"]:
                    break
            latencies.append((at - started) * 1000)
            await loop.run_in_executor(None, _post, base, f"/api/v1/rides/{ride['id']}/cancel", rider_token,
                                       {"reason": "bench"})
    finally:
        for task in listeners:
            task.cancel()
        for ws in sockets:
            await ws.close()
    return latencies


def main() -> None:
    ensure_debian_tools("wrk")
    duration = int(os.environ.get("BENCH_DURATION", "10"))
    drivers = int(os.environ.get("RIDES_BENCH_DRIVERS", "100000"))
    requests = int(os.environ.get("RIDES_BENCH_REQUESTS", "10000"))
    ingest_drivers = int(os.environ.get("RIDES_BENCH_INGEST_DRIVERS", "200"))
    # Drivers indexed at the start must still count as online when the last query runs.
    env = {"DRIVER_STALE_SECONDS": "3600"}
    if os.environ.get("BENCH_DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["BENCH_DATABASE_URL"]
    if os.environ.get("BENCH_REDIS_URL"):
        env["REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    backend = "PostgreSQL + Redis" if "DATABASE_URL" in env else "embedded SQLite + Redis"

    with project_server(env=env, workers=2, celery=True) as server:
        log(f"indexing {drivers:,} drivers, {requests:,} requests …")
        output = server.manage("shell", "-c", SETUP % {
            "box": BOX, "ingest": ingest_drivers, "drivers": drivers, "samples": NEARBY_SAMPLES, "requests": requests,
            "offer_drivers": OFFER_DRIVERS, "pickup": OFFER_PICKUP, "store_batch": STORE_BATCH,
            "offer_riders": max(1, -(-OFFER_SAMPLES // OFFER_RIDES_PER_RIDER))})
        setup = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
        geoadd = redis_benchmark_geoadd(setup["redis_url"])
        log(f"redis-benchmark GEOADD: {geoadd:,.0f}/s; store: {setup['store_puts_per_s']:,.0f}/s")

        tokens = ",".join(f'"{token}"' for token in setup["tokens"])
        lua = LOCATION_LUA % {"tokens": tokens, "points": LOCATION_POINTS}
        wrk(server, connections=LOCATION_CONNECTIONS, duration=2, lua=lua)  # warm up
        ingest = wrk(server, connections=LOCATION_CONNECTIONS, duration=duration, lua=lua)
        log(f"HTTP ingest: {ingest.rps:,.0f} requests/s, {ingest.non_2xx_3xx} non-2xx")

        ws_ingest = asyncio.run(websocket_ingest(server, setup["tokens"], WS_FRAMES_PER_DRIVER))
        ws_rate = ws_ingest["frames"] / ws_ingest["seconds"]
        log(f"WebSocket ingest: {ws_rate:,.0f} frames/s, {ws_ingest['errors']} error frames")

        offer_ms = sorted(asyncio.run(request_to_offer(server, setup["offer_tokens"], setup["offer_rider_tokens"],
                                                       OFFER_SAMPLES)))
        log(f"request -> offer: p50 {statistics.median(offer_ms):.1f} ms over {len(offer_ms)}")

        headers = {"Authorization": f"Token {setup['rider_token']}"}
        wrk(server, connections=NEARBY_CONNECTIONS, duration=2, lua=NEARBY_LUA % {}, headers=headers)
        nearby = wrk(server, connections=NEARBY_CONNECTIONS, duration=duration, lua=NEARBY_LUA % {}, headers=headers)
        log(f"HTTP nearby: {nearby.rps:,.0f} req/s p99 {nearby.p99_ms} ms, {nearby.non_2xx_3xx} non-2xx")

    n = setup["drivers"]
    report(f"Rides: location ingest ({backend})", [
        {"name": "redis-benchmark GEOADD (50 clients)", "updates_per_s": round(geoadd), "ratio": 1.0},
        {"name": f"store.drivers_put, {STORE_BATCH:,} drivers a round trip (1 client)", "updates_per_s": round(setup["store_puts_per_s"]),
         "ratio": round(setup["store_puts_per_s"] / geoadd, 3), "target": ">= 25,000/s"},
        {"name": f"POST driver/location, {LOCATION_POINTS}-point batches ({LOCATION_CONNECTIONS} clients)",
         "updates_per_s": round(ingest.rps), "points_per_s": round(ingest.rps * LOCATION_POINTS),
         "ratio": round(ingest.rps / geoadd, 3), "p99_ms": ingest.p99_ms, "non_2xx": ingest.non_2xx_3xx,
         "target": ">= 5,000/s"},
        {"name": f"location frames on {len(setup['tokens'])} driver sockets", "updates_per_s": round(ws_rate),
         "ratio": round(ws_rate / geoadd, 3), "non_2xx": ws_ingest["errors"], "target": ">= 5,000/s"},
    ])
    report(f"Rides: request -> offer frame on the driver's socket ({backend})", [
        {"name": f"POST /api/v1/rides -> ride.offer ({len(offer_ms)} rides, sequential)",
         "p50_ms": round(statistics.median(offer_ms), 1),
         "p99_ms": round(offer_ms[min(len(offer_ms) - 1, int(len(offer_ms) * 0.99))], 1), "target_p99_ms": 250},
    ])
    report(f"Rides: nearest 10 of {n:,} online drivers ({backend})", [
        {"name": "selectors.nearby_drivers (in-process)", "p50_ms": round(setup["selector_p50_ms"], 3),
         "p99_ms": round(setup["selector_p99_ms"], 3), "target_p99_ms": 5},
        {"name": f"GET drivers/nearby ({NEARBY_CONNECTIONS} clients)", "rps": round(nearby.rps),
         "p50_ms": nearby.p50_ms, "p99_ms": nearby.p99_ms, "non_2xx": nearby.non_2xx_3xx, "target_p99_ms": 25},
    ])
    report(f"Rides: surge and batched assignment ({backend})", [
        {"name": f"surge_recompute: {n:,} drivers, {setup['requests']:,} requests",
         "seconds": round(setup["surge_seconds"], 3), "cells_surging": setup["surge_cells"], "target_s": 1},
        {"name": "batched assignment 200 x 2,000", "ms": round(setup["batch_ms"], 1),
         "pairs": setup["batch_pairs"], "target_ms": 50},
    ])
