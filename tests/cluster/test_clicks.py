"""Redirects through the balancer are counted once, while web and worker nodes die under them."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections import Counter
from urllib.parse import urlsplit

import pytest

from shortener.store import CLICK_COUNTS_FLUSHING_KEY, CLICK_COUNTS_KEY, CLICK_GROUP, CLICK_STREAM_KEY

pytestmark = pytest.mark.cluster

REDIRECTS = 20_000
CONNECTIONS = 32
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REFERRER = "https://load.example/t/"

SEED = """
import json
from django.contrib.auth import get_user_model
from shortener.services.links import LinkInput, link_create
owner = get_user_model().objects.create_user(username="clicker", password="x" * 12)
link = link_create(owner=owner, data=LinkInput(long_url="https://example.com/landing"), throttle=False)
print(json.dumps({"code": link.short_code, "id": link.id}))
"""


class RedirectLoad:
    """``total`` redirects over keep-alive connections; a failed attempt is retried as a new one.

    Each attempt carries its own tag in the Referer, so the stored clicks say which attempts
    were recorded: the answered ones must all be there, once each.
    """

    def __init__(self, base: str, code: str, total: int):
        parts = urlsplit(base)
        self.host, self.port, self.code, self.total = parts.hostname, parts.port, code, total
        self.attempts: list[str] = []
        self.answered: dict[int, str] = {}  # logical redirect -> the tag of its answered attempt
        self.by_node: Counter = Counter()
        self.failures: Counter = Counter()

    def _request(self, tag: str) -> bytes:
        return (
            f"GET /{self.code} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Referer: {REFERRER}{tag}\r\n\r\n"
        ).encode()

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        return status, headers

    async def run(self) -> None:
        pending = iter(range(self.total))

        async def connection() -> None:
            reader = writer = None
            for logical in pending:
                for attempt in range(1, 50):
                    tag = f"{logical}-{attempt}"
                    self.attempts.append(tag)
                    try:
                        if writer is None:
                            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
                        writer.write(self._request(tag))
                        status, headers = await asyncio.wait_for(self._response(reader), 10)
                    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                        self.failures[type(exc).__name__] += 1
                        if writer is not None:
                            writer.close()
                        reader = writer = None
                        await asyncio.sleep(0.05)
                        continue
                    if headers.get("connection", "").lower() == "close":
                        writer.close()
                        reader = writer = None
                    if status == 302:
                        self.answered[logical] = tag
                        self.by_node[headers.get("x-node")] += 1
                        break
                    self.failures[status] += 1  # 502/503 while the balancer notices a dead node
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError(f"redirect {logical} never answered: {self.failures}")
            if writer is not None:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))


def _worker_consumers(cluster, node: str) -> set[str]:
    host = socket.gethostname()
    return {f"{host}-{pid}" for pid in cluster.node_pids(node)}


def _pending_by_consumer(cluster) -> dict[str, int]:
    try:
        consumers = cluster.redis.xinfo_consumers(CLICK_STREAM_KEY, CLICK_GROUP)
    except Exception:  # noqa: BLE001 - no group yet: nothing pending
        return {}
    return {(c["name"].decode() if isinstance(c["name"], bytes) else c["name"]): c["pending"] for c in consumers}


def _settled(cluster, link_id: int, code: str, timeout: float = 90.0) -> tuple[list[str], int, int]:
    """Wait until every click is stored and counted; returns (referrers of the rows, click_count, hourly clicks)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        referrers = [r for (r,) in cluster.sql("SELECT referrer FROM shortener_click WHERE link_id = %s", (link_id,))]
        (count,), = cluster.sql("SELECT click_count FROM shortener_link WHERE id = %s", (link_id,))
        hourly = cluster.sql("SELECT coalesce(sum(clicks), 0) FROM shortener_linkhourlystats WHERE link_id = %s",
                             (link_id,))[0][0]
        stream = cluster.redis.xlen(CLICK_STREAM_KEY)
        uncounted = cluster.redis.exists(CLICK_COUNTS_KEY, CLICK_COUNTS_FLUSHING_KEY)
        state = (len(referrers), count, hourly)
        if stream == 0 and not uncounted and len(referrers) == count and state == last:
            return referrers, count, hourly
        last = state
        time.sleep(1.0)
    raise AssertionError(f"clicks did not settle: rows/click_count/hourly {last}, stream {stream}")


def test_redirects_are_counted_once_while_a_web_node_and_a_worker_node_are_killed(cluster):
    link = cluster.shell(SEED)
    load = RedirectLoad(cluster.url, link["code"], REDIRECTS)
    killed: dict[str, object] = {}

    async def kill_web_node_a_quarter_in() -> None:
        while len(load.answered) < REDIRECTS // 4:
            await asyncio.sleep(0.02)
        killed["web_at"] = len(load.answered)
        await asyncio.to_thread(cluster.cluster.web(1).kill)

    async def kill_worker_node_while_it_holds_clicks() -> None:
        # worker2 is frozen (SIGSTOP) until worker1 dies, so worker1 is the one consuming clicks and
        # is caught between reading a batch and acknowledging it, not only when the timing allows.
        names = _worker_consumers(cluster, "worker1")
        survivor = cluster.cluster.worker(2)
        survivor.signal(signal.SIGSTOP)
        try:
            while len(load.answered) < REDIRECTS:
                pending = {name: n for name, n in _pending_by_consumer(cluster).items() if name in names and n}
                if pending:
                    await asyncio.to_thread(cluster.cluster.worker(1).kill)
                    killed["worker_pending"] = pending
                    return
                await asyncio.sleep(0.005)
        finally:
            survivor.signal(signal.SIGCONT)

    async def main() -> None:
        await asyncio.gather(load.run(), kill_web_node_a_quarter_in(), kill_worker_node_while_it_holds_clicks())

    asyncio.run(main())

    assert len(load.answered) == REDIRECTS
    assert load.by_node["web1"] > 0 and load.by_node["web2"] > 0  # spread over both nodes
    assert killed["web_at"] >= REDIRECTS // 4
    dead_consumers = killed.get("worker_pending")
    assert dead_consumers, "worker1 was never seen holding unacknowledged clicks"

    referrers, click_count, hourly = _settled(cluster, link["id"], link["code"])
    tags = Counter(r.removeprefix(REFERRER) for r in referrers)
    assert [tag for tag, n in tags.items() if n > 1] == []  # no attempt stored twice
    assert set(load.answered.values()) <= set(tags)  # every answered redirect stored
    assert set(tags) <= set(load.attempts)  # and nothing that was never sent
    # Attempts beyond the answered ones were cut off by the dead node: stored or not, once at most.
    assert len(tags) - REDIRECTS <= sum(load.failures.values())
    assert click_count == len(referrers) == hourly
    # The dead worker's entries were taken over by a live consumer: none is left pending.
    assert sum(_pending_by_consumer(cluster).values()) == 0
