"""The feed across nodes: a post fanned out by either worker node reaches followers' sockets on both web nodes."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from websockets.asyncio.client import connect

pytestmark = pytest.mark.cluster

SEED = """
import json
from django.contrib.auth import get_user_model
from core.services import token_for
User = get_user_model()
users = [User.objects.create_user(username=name, password="x" * 12) for name in ("author", "reader1", "reader2")]
print(json.dumps({u.username: {"id": u.id, "token": token_for(u).key} for u in users}))
"""


def api(base: str, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, object]:
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - the cluster on loopback
        return response.status, json.loads(response.read() or b"null")


async def stream(base_ws: str, token: str):
    return await connect(f"{base_ws}/api/v1/streaming?stream=user&access_token={token}", open_timeout=20,
                         ping_interval=None, max_queue=None)


async def updates(socket, count: int, timeout: float = 30.0) -> list[str]:
    """The ids of the next ``count`` updates, then whatever else arrives within a second (none expected)."""
    ids: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(ids) < count and loop.time() < deadline:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=deadline - loop.time()))
        if frame.get("event") == "update":
            ids.append(json.loads(frame["payload"])["id"])
    try:
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=1.0))
            if frame.get("event") == "update":
                ids.append(json.loads(frame["payload"])["id"])
    except TimeoutError:
        pass
    return ids


def test_posts_fanned_out_by_either_worker_reach_followers_sockets_on_both_nodes(cluster):
    people = cluster.shell(SEED)
    author = people["author"]
    for reader in ("reader1", "reader2"):
        token = people[reader]["token"]
        assert api(cluster.url, "POST", f"/api/v1/accounts/{author['id']}/follow", token)[0] == 200
        assert api(cluster.url, "GET", "/api/v1/timelines/home", token)[0] in (200, 206)  # an active reader

    def publish(texts: list[str]) -> list[str]:
        return [api(cluster.url, "POST", "/api/v1/statuses", author["token"], {"status": text})[1]["id"]
                for text in texts]

    async def round_with(worker_alive: int) -> None:
        # Only one worker node runs: every fan-out of this round is its work.
        sockets = [
            await stream(cluster.node_ws(1), people["reader1"]["token"]),
            await stream(cluster.node_ws(2), people["reader1"]["token"]),
            await stream(cluster.node_ws(2), people["reader2"]["token"]),
        ]
        try:
            posted = await asyncio.to_thread(publish, [f"from worker{worker_alive} #{i}" for i in range(3)])
            for socket in sockets:
                # Each post once; posts fanned out in parallel may arrive in either order.
                assert sorted(await updates(socket, len(posted))) == sorted(posted)
        finally:
            for socket in sockets:
                await socket.close()

    cluster.cluster.worker(2).kill()
    asyncio.run(round_with(worker_alive=1))
    cluster.cluster.worker(1).kill()
    cluster.cluster.worker(2).start()
    asyncio.run(round_with(worker_alive=2))
