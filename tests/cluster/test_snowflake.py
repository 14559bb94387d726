"""Snowflake ids made by every node at once never collide: each process leases its own worker id."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from core.snowflake import parse
from core.store import snowflake_worker_key
from tests.cluster.test_chat import next_frame, open_socket
from tests.cluster.test_clicks import REFERRER, RedirectLoad

pytestmark = pytest.mark.cluster

BURST_SECONDS = 10.0
SENDERS = 8
PER_SENDER = 25  # under the chat's 30 messages per 10 s per user

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from chat.services.conversations import conversation_create
from shortener.services.links import LinkInput, link_create
User = get_user_model()
users = [User.objects.create_user(username=f"burst{i}", password="x" * 12) for i in range(8)]
conversations = [conversation_create(creator=users[i], usernames=[users[i + 1].username])[0] for i in range(0, 8, 2)]
link = link_create(owner=users[0], data=LinkInput(long_url="https://example.com/burst"), throttle=False)
print(json.dumps({"tokens": [Token.objects.create(user=u).key for u in users],
                  "conversations": [str(c.id) for c in conversations], "code": link.short_code, "link": link.id}))
"""


def test_ids_made_by_all_nodes_during_a_ten_second_burst_are_unique(cluster):
    seed = cluster.shell(SEED)
    message_ids: dict[int, list[int]] = {1: [], 2: []}  # web node -> ids of the messages it stored
    load = RedirectLoad(cluster.url, seed["code"], 1_000_000)
    started = time.time()

    async def sender(index: int) -> None:
        node = 1 if index % 2 == 0 else 2  # the two members of each conversation sit on different nodes
        socket = await open_socket(cluster.node_ws(node), seed["tokens"][index])
        try:
            conversation = seed["conversations"][index // 2]
            loop = asyncio.get_running_loop()
            begin = loop.time()
            for i in range(PER_SENDER):
                await asyncio.sleep(max(0.0, begin + i * BURST_SECONDS / PER_SENDER - loop.time()))
                await socket.send(json.dumps({"type": "message.send", "conversation": conversation,
                                              "client_id": f"{index}-{i}", "content": "burst"}))
                ack = await next_frame(socket, "message.ack")
                message_ids[node].append(int(ack["message"]["id"]))
        finally:
            await socket.close()

    async def redirects_for_the_burst() -> None:
        task = asyncio.create_task(load.run())
        await asyncio.sleep(BURST_SECONDS)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def main() -> None:
        await asyncio.gather(redirects_for_the_burst(), *(sender(i) for i in range(SENDERS)))

    asyncio.run(main())
    assert len(message_ids[1]) + len(message_ids[2]) == SENDERS * PER_SENDER

    # Clicks get their ids on the worker nodes: wait until the answered ones are stored.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        click_ids = [i for (i,) in cluster.sql(
            "SELECT id FROM shortener_click WHERE link_id = %s AND referrer LIKE %s", (seed["link"], f"{REFERRER}%"))]
        if len(click_ids) >= len(load.answered):
            break
        time.sleep(1)
    assert len(click_ids) >= len(load.answered) > 1000

    everything = message_ids[1] + message_ids[2] + click_ids
    assert len(set(everything)) == len(everything)
    workers = {name: {parse(i).worker_id for i in ids}
               for name, ids in (("web1", message_ids[1]), ("web2", message_ids[2]), ("workers", click_ids))}
    assert workers["web1"].isdisjoint(workers["web2"])
    assert workers["workers"].isdisjoint(workers["web1"] | workers["web2"])
    # Every id in use is backed by a live lease in the shared Redis, and was made during the burst.
    for worker_id in set().union(*workers.values()):
        assert cluster.redis.exists(snowflake_worker_key(worker_id))
    assert all(parse(i).timestamp_ms >= started * 1000 - 1000 for i in everything)
