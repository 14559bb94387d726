"""Chat delivery under load, measured with real WebSocket clients (the ``websockets`` package).

``python -m bench chat`` boots the project (uvicorn, embedded SQLite + Redis unless
DATABASE_URL/REDIS_URL are set) and measures:

1. a 500-member group, every member connected (one socket each), 2 group messages/s:
   send → receive latency per recipient (p50/p99) and messages lost;
2. 1:1 delivery latency (p50/p99) between two connected users;
3. 2,000 idle authenticated sockets held by ONE server process (connect, hold, ping all);
4. 500 missed messages replayed by ``sync`` after a reconnect: time, gaps, duplicates.

The load client runs in this process and shares the machine's cores with the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from websockets.asyncio.client import connect

from bench.common import log, project_server, report

GROUP_MEMBERS = int(os.environ.get("CHAT_BENCH_GROUP", "500"))
GROUP_MESSAGES = int(os.environ.get("CHAT_BENCH_GROUP_MESSAGES", "20"))
GROUP_RATE = 2.0  # group messages per second
DIRECT_MESSAGES = int(os.environ.get("CHAT_BENCH_DIRECT_MESSAGES", "50"))
DIRECT_RATE = 2.5  # per second, alternating senders (each stays under the per-user send limit)
IDLE_SOCKETS = int(os.environ.get("CHAT_BENCH_IDLE", "2000"))
IDLE_HOLD_SECONDS = int(os.environ.get("CHAT_BENCH_IDLE_HOLD", "10"))
SYNC_MISSED = 500
DRAIN_SECONDS = 5.0
# Point the servers at PostgreSQL/Redis instead of the embedded default, e.g.
# CHAT_BENCH_DATABASE_URL=postgres://... CHAT_BENCH_REDIS_URL=redis://127.0.0.1:6379/8
SERVER_ENV = {
    name: os.environ[f"CHAT_BENCH_{name}"] for name in ("DATABASE_URL", "REDIS_URL") if os.environ.get(f"CHAT_BENCH_{name}")
}
BACKEND = "PostgreSQL + Redis" if "DATABASE_URL" in SERVER_ENV else "embedded SQLite + Redis"

# Runs inside ``manage.py shell`` on the server's database: users, tokens, conversations.
SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from chat.services.conversations import conversation_create
User = get_user_model()
n = {users}
User.objects.bulk_create([User(username=f"bench{{i:05}}") for i in range(n)], ignore_conflicts=True)
users = list(User.objects.filter(username__startswith="bench").order_by("username")[:n])
Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users], ignore_conflicts=True)
keys = dict(Token.objects.filter(user__in=users).values_list("user_id", "key"))
tokens = [keys[u.id] for u in users]
group, _ = conversation_create(creator=users[0], usernames=[u.username for u in users[1:{group}]], title="bench")
direct, _ = conversation_create(creator=users[{group}], usernames=[users[{group} + 1].username])
backlog, _ = conversation_create(creator=users[{group} + 2], usernames=[users[{group} + 3].username])
print(json.dumps({{"tokens": tokens, "group": str(group.id), "direct": str(direct.id),
                  "backlog": str(backlog.id)}}))
"""

# Sends the messages the ``sync`` reader misses while it is offline (the send limit is per
# process settings; this seeding process lifts it, the server keeps its own).
BACKLOG = """
from django.conf import settings
from django.contrib.auth import get_user_model
from chat.services.messages import message_send
settings.CHAT_SEND_RATE_LIMIT = (100000, 1)
sender = get_user_model().objects.get(username="bench{sender:05}")
for i in range({count}):
    message_send(sender=sender, conversation_id={conversation}, client_id=f"backlog-{{i}}", content=f"missed {{i}}")
"""


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _ws_url(base: str, token: str) -> str:
    return base.replace("http://", "ws://") + f"/ws/chat/?token={token}"


async def _open(base: str, token: str):
    return await connect(_ws_url(base, token), origin=base, open_timeout=60, max_queue=None, ping_interval=None)


async def _open_many(base: str, tokens: list[str], concurrency: int = 50, *, return_exceptions: bool = False) -> list:
    limit = asyncio.Semaphore(concurrency)

    async def one(token: str):
        async with limit:
            return await _open(base, token)

    return await asyncio.gather(*(one(t) for t in tokens), return_exceptions=return_exceptions)


async def _next(socket, frame_type: str) -> dict:
    while True:
        frame = json.loads(await socket.recv())
        if frame["type"] == frame_type:
            return frame


async def group_fanout(base: str, tokens: list[str], conversation: str) -> dict:
    sockets = await _open_many(base, tokens[:GROUP_MEMBERS])
    log(f"group: {len(sockets)} members connected")
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    received = 0
    done = asyncio.Event()
    expected = (len(sockets) - 1) * GROUP_MESSAGES

    async def listen(socket) -> None:
        nonlocal received
        async for raw in socket:
            frame = json.loads(raw)
            if frame["type"] == "message.new" and frame["message"]["client_id"] in sent_at:
                latencies.append((time.perf_counter() - sent_at[frame["message"]["client_id"]]) * 1000)
                received += 1
                if received == expected:
                    done.set()

    listeners = [asyncio.create_task(listen(s)) for s in sockets[1:]]
    sender = sockets[0]
    ack_latencies = []
    for i in range(GROUP_MESSAGES):
        client_id = f"group-{i}"
        started = time.perf_counter()
        sent_at[client_id] = started
        await sender.send(json.dumps({"type": "message.send", "conversation": conversation, "client_id": client_id,
                                      "content": f"group message {i}"}))
        await _next(sender, "message.ack")
        ack_latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(max(0.0, 1 / GROUP_RATE - (time.perf_counter() - started)))
    try:
        await asyncio.wait_for(done.wait(), timeout=DRAIN_SECONDS)
    except TimeoutError:
        pass
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {
        "name": f"group of {len(sockets)}, {GROUP_RATE:g} msg/s x {GROUP_MESSAGES}",
        "deliveries": received, "lost": expected - received,
        "p50_ms": round(_percentile(latencies, 50), 1), "p99_ms": round(_percentile(latencies, 99), 1),
        "ack_p50_ms": round(_percentile(ack_latencies, 50), 1),
    }


async def direct_latency(base: str, tokens: list[str], conversation: str) -> dict:
    a, b = await _open_many(base, tokens)
    latencies = []
    lost = 0
    for i in range(DIRECT_MESSAGES):
        sender, receiver = (a, b) if i % 2 == 0 else (b, a)
        client_id = f"direct-{i}"
        started = time.perf_counter()
        await sender.send(json.dumps({"type": "message.send", "conversation": conversation, "client_id": client_id,
                                      "content": f"direct {i}"}))
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(receiver.recv(), timeout=DRAIN_SECONDS))
                if frame["type"] == "message.new" and frame["message"]["client_id"] == client_id:
                    latencies.append((time.perf_counter() - started) * 1000)
                    break
        except TimeoutError:
            lost += 1
        await _next(sender, "message.ack")
        await asyncio.sleep(max(0.0, 1 / DIRECT_RATE - (time.perf_counter() - started)))
    await asyncio.gather(a.close(), b.close(), return_exceptions=True)
    return {"name": f"1:1, {DIRECT_MESSAGES} messages", "deliveries": len(latencies), "lost": lost,
            "p50_ms": round(_percentile(latencies, 50), 1), "p99_ms": round(_percentile(latencies, 99), 1)}


async def idle_sockets(base: str, tokens: list[str]) -> dict:
    started = time.perf_counter()
    results = await _open_many(base, tokens, return_exceptions=True)
    sockets = [s for s in results if not isinstance(s, BaseException)]
    connect_errors = len(results) - len(sockets)
    for failure in sorted({repr(r)[:200] for r in results if isinstance(r, BaseException)}):
        log(f"idle: connect failed: {failure}")
    connect_seconds = time.perf_counter() - started
    log(f"idle: {len(sockets)} sockets open in {connect_seconds:.1f}s; holding {IDLE_HOLD_SECONDS}s")
    await asyncio.sleep(IDLE_HOLD_SECONDS)

    failures: list[str] = []

    async def ping(socket) -> bool:
        try:
            await socket.send(json.dumps({"type": "ping"}))
            await asyncio.wait_for(_next(socket, "pong"), timeout=30)
            return True
        except Exception as exc:  # noqa: BLE001 - counted as an error
            failures.append(repr(exc)[:200])
            return False

    ok = await asyncio.gather(*(ping(s) for s in sockets))
    for failure in sorted(set(failures)):
        log(f"idle: ping failed: {failure}")
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {"name": f"{len(tokens)} idle sockets, 1 server process", "open": len(sockets),
            "connect_s": round(connect_seconds, 1), "pong_ok": sum(ok),
            "errors": connect_errors + (len(sockets) - sum(ok))}


async def sync_replay(base: str, token: str, conversation: str) -> dict:
    socket = await _open(base, token)
    started = time.perf_counter()
    await socket.send(json.dumps({"type": "sync", "cursors": {conversation: 0}}))
    seqs = []
    while True:
        frame = json.loads(await socket.recv())
        if frame["type"] == "message.new":
            seqs.append(frame["message"]["seq"])
        elif frame["type"] == "sync.done":
            break
    elapsed = time.perf_counter() - started
    await socket.close()
    expected = set(range(1, SYNC_MISSED + 1))
    return {"name": f"sync replay of {SYNC_MISSED} missed", "replayed": len(seqs), "seconds": round(elapsed, 3),
            "gaps": len(expected - set(seqs)), "duplicates": len(seqs) - len(set(seqs)),
            "in_order": seqs == sorted(seqs)}


def _server_errors(server) -> None:
    lines = (server.data_dir / "web.log").read_text(errors="replace").splitlines()
    errors = {line.strip()[:160] for line in lines if "Error" in line and not line.startswith(" ")}
    for line in sorted(errors):
        log(f"server log: {line}")


def _seed(server, users: int) -> dict:
    output = server.manage("shell", "-c", SEED.format(users=users, group=GROUP_MEMBERS))
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    users = max(IDLE_SOCKETS, GROUP_MEMBERS + 4)
    rows = []
    with project_server(workers=2, env=SERVER_ENV) as server:
        seed = _seed(server, users)
        tokens = seed["tokens"]
        log("seeded users and conversations")
        rows.append(asyncio.run(group_fanout(server, tokens, seed["group"])))
        rows.append(asyncio.run(direct_latency(server, tokens[GROUP_MEMBERS:GROUP_MEMBERS + 2], seed["direct"])))
        server.manage("shell", "-c", BACKLOG.format(sender=GROUP_MEMBERS + 2, count=SYNC_MISSED,
                                                    conversation=seed["backlog"]))
        rows.append(asyncio.run(sync_replay(server, tokens[GROUP_MEMBERS + 3], seed["backlog"])))
        _server_errors(server)
    with project_server(workers=1, env=SERVER_ENV) as server:
        tokens = _seed(server, users)["tokens"]
        rows.append(asyncio.run(idle_sockets(server, tokens[:IDLE_SOCKETS])))
        _server_errors(server)
    report(f"chat ({BACKEND}): delivery latency, idle sockets, sync replay", rows)


if __name__ == "__main__":
    main()
