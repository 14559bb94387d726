"""Chat across nodes: what one node accepts reaches sockets held by every node, once and in order."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from websockets.asyncio.client import connect

pytestmark = pytest.mark.cluster

_names = itertools.count()

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from chat.services.conversations import conversation_create
User = get_user_model()
alice = User.objects.create_user(username="{a}", password="x" * 12)
bob = User.objects.create_user(username="{b}", password="x" * 12)
direct, _ = conversation_create(creator=alice, usernames=[bob.username])
print(json.dumps({{"alice": Token.objects.create(user=alice).key, "bob": Token.objects.create(user=bob).key,
                  "conversation": str(direct.id)}}))
"""


def seed_pair(cluster) -> dict:
    n = next(_names)
    return cluster.shell(SEED.format(a=f"alice{n}", b=f"bob{n}"))


async def open_socket(base_ws: str, token: str):
    return await connect(f"{base_ws}/ws/chat/?token={token}", open_timeout=20, ping_interval=None, max_queue=None)


async def frames_of(socket, kinds: set[str], *, until: float) -> list[dict]:
    """Every frame of these kinds that arrives within ``until`` seconds (all of them, never fewer)."""
    found = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + until
    while (left := deadline - loop.time()) > 0:
        try:
            frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=left))
        except TimeoutError:
            break
        if frame["type"] in kinds:
            found.append(frame)
    return found


async def next_frame(socket, kind: str, timeout: float = 15.0) -> dict:
    async def wait() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind:
                return frame

    return await asyncio.wait_for(wait(), timeout)


async def send_message(socket, conversation: str, client_id: str) -> dict:
    await socket.send(json.dumps({"type": "message.send", "conversation": conversation, "client_id": client_id,
                                  "content": f"hello {client_id}"}))
    ack = await next_frame(socket, "message.ack")
    assert ack["client_id"] == client_id
    return ack["message"]


async def test_a_message_sent_on_node_1_reaches_the_recipients_sockets_on_both_nodes_in_order_once(cluster):
    people = seed_pair(cluster)
    conversation = people["conversation"]
    alice = await open_socket(cluster.node_ws(1), people["alice"])
    bob_on_2 = await open_socket(cluster.node_ws(2), people["bob"])
    bob_on_1 = await open_socket(cluster.node_ws(1), people["bob"])
    try:
        sent = [await send_message(alice, conversation, f"m{i}") for i in range(5)]
        assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
        for bob in (bob_on_2, bob_on_1):
            got = await frames_of(bob, {"message.new"}, until=3.0)
            assert [(f["message"]["seq"], f["message"]["client_id"]) for f in got] == [
                (m["seq"], m["client_id"]) for m in sent
            ]
        # The sender's own socket has the acks, never a copy of its messages.
        assert await frames_of(alice, {"message.new"}, until=0.5) == []
    finally:
        for socket in (alice, bob_on_2, bob_on_1):
            await socket.close()


async def test_typing_and_receipts_cross_nodes(cluster):
    people = seed_pair(cluster)
    conversation = people["conversation"]
    alice = await open_socket(cluster.node_ws(1), people["alice"])
    bob = await open_socket(cluster.node_ws(2), people["bob"])
    try:
        await alice.send(json.dumps({"type": "typing", "conversation": conversation}))
        typing = await next_frame(bob, "typing")
        assert typing["conversation"] == conversation
        assert typing["user"].startswith("alice")

        message = await send_message(alice, conversation, "to-be-read")
        await next_frame(bob, "message.new")
        await bob.send(json.dumps({"type": "receipt", "conversation": conversation, "status": "read",
                                   "up_to_seq": message["seq"]}))
        receipts = await frames_of(alice, {"receipt"}, until=3.0)
        assert {(r["status"], r["up_to_seq"]) for r in receipts} == {("delivered", 1), ("read", 1)}
        assert all(r["user"].startswith("bob") and r["conversation"] == conversation for r in receipts)
        # With bob's socket still open, a worker's periodic flush writes the pointer to the database.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        stored = None
        while loop.time() < deadline:
            stored = await asyncio.to_thread(
                cluster.sql,
                "SELECT m.delivered_seq, m.read_seq FROM chat_membership m JOIN auth_user u ON u.id = m.user_id "
                "WHERE m.conversation_id = %s AND u.username LIKE 'bob%%'", (int(conversation),))
            if stored == [(1, 1)]:
                break
            await asyncio.sleep(0.5)
        assert stored == [(1, 1)]
    finally:
        await alice.close()
        await bob.close()


async def test_a_client_whose_node_dies_reconnects_through_the_balancer_and_sync_returns_what_it_missed(cluster):
    people = seed_pair(cluster)
    conversation = people["conversation"]
    bob = await open_socket(cluster.ws_url, people["bob"])
    bob_node = bob.response.headers["X-Node"]
    other = 2 if bob_node == "web1" else 1
    alice = await open_socket(cluster.node_ws(other), people["alice"])
    try:
        before = [await send_message(alice, conversation, f"before-{i}") for i in range(3)]
        live = await frames_of(bob, {"message.new"}, until=2.0)
        assert [f["message"]["seq"] for f in live] == [m["seq"] for m in before]
        seen = max(f["message"]["seq"] for f in live)

        await asyncio.to_thread(cluster.cluster.nodes[bob_node].kill)
        missed = [await send_message(alice, conversation, f"missed-{i}") for i in range(10)]

        # Bob's client notices its socket is gone and reconnects through the same address.
        with pytest.raises(Exception):  # noqa: B017 - any closed-connection error ends the old socket
            await asyncio.wait_for(bob.recv(), timeout=10)
        reconnected = None
        for _ in range(30):
            try:
                reconnected = await open_socket(cluster.ws_url, people["bob"])
                break
            except OSError:
                await asyncio.sleep(0.2)
            except Exception:  # noqa: BLE001 - a 503 from the balancer while it notices: retry
                await asyncio.sleep(0.2)
        assert reconnected is not None
        assert reconnected.response.headers["X-Node"] == f"web{other}"
        try:
            await reconnected.send(json.dumps({"type": "sync", "cursors": {conversation: seen}}))
            frames = []
            while (frame := json.loads(await asyncio.wait_for(reconnected.recv(), 15)))["type"] != "sync.done":
                if frame["type"] == "message.new":
                    frames.append(frame)
            assert [f["message"]["client_id"] for f in frames] == [m["client_id"] for m in missed]
            assert [f["message"]["seq"] for f in frames] == list(range(seen + 1, seen + 11))
            assert frame["cursors"] == {conversation: seen + 10}
            # Nothing arrives twice afterwards either.
            assert await frames_of(reconnected, {"message.new"}, until=1.5) == []
        finally:
            await reconnected.close()
    finally:
        await alice.close()
