"""Publishing to WebSocket groups after commit, and the channels-redis adapter behind it."""

import asyncio
import re
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from redis.exceptions import ConnectionError as RedisConnectionError

from core import channels_adapter, publish
from core.metrics import recorder, render

pytestmark = pytest.mark.django_db(transaction=True)

EVENT = {"type": "test.event", "text": "hello"}


def failures(app: str) -> int:
    recorder.flush()
    match = re.search(rf'^publish_failures_total{{app="{app}"}} (\d+)$', render(), re.MULTILINE)
    return int(match.group(1)) if match else 0


async def _listen(groups: list[str]) -> dict[str, str]:
    layer = get_channel_layer()
    channels = {}
    for group in groups:
        channels[group] = await layer.new_channel()
        await layer.group_add(group, channels[group])
    return channels


async def _received(channel: str, timeout: float = 2) -> dict | None:
    try:
        return await asyncio.wait_for(get_channel_layer().receive(channel), timeout)
    except TimeoutError:
        return None


def _break_the_channel_layer(monkeypatch):
    def unreachable(self, index):
        raise RedisConnectionError("channel layer Redis is unreachable")

    monkeypatch.setattr(RedisChannelLayer, "connection", unreachable)


def test_the_installed_channels_redis_is_the_version_the_adapter_reads():
    assert channels_adapter.installed_channels_redis_version() == channels_adapter.SUPPORTED_CHANNELS_REDIS
    apps.get_app_config("core").ready()  # does not raise


def test_start_up_fails_loudly_on_another_channels_redis_version(monkeypatch):
    monkeypatch.setattr(channels_adapter.metadata, "version", lambda name: "4.4.0")

    with pytest.raises(ImproperlyConfigured, match=r"4\.3\.0.*4\.4\.0"):
        apps.get_app_config("core").ready()


def test_no_module_outside_the_adapter_touches_channels_redis_internals():
    root = Path(__file__).resolve().parents[2]
    # The settings name the layer's public class path; code may not import the library.
    private = re.compile(r"\b_group_key\b|\b_map_channel_keys_to_connection\b|^\s*(from|import) channels_redis\b",
                         re.MULTILINE)
    adapter = root / "core" / "channels_adapter.py"
    offenders = [
        str(path.relative_to(root))
        for folder in ("core", "chat", "feed", "rides", "shortener", "config")
        for path in (root / folder).rglob("*.py")
        if path != adapter and private.search(path.read_text())
    ]
    assert offenders == []


async def test_group_send_many_reaches_each_channel_of_each_group_once():
    channels = await _listen(["g.a", "g.b", "g.c"])
    extra = await get_channel_layer().new_channel()
    await get_channel_layer().group_add("g.a", extra)
    await get_channel_layer().group_add("g.b", extra)  # in two of the groups: still one copy

    dropped = await channels_adapter.group_send_many(get_channel_layer(), ["g.a", "g.b", "g.a"], EVENT)

    assert dropped == 0
    assert (await _received(channels["g.a"]))["text"] == "hello"
    assert (await _received(channels["g.b"]))["text"] == "hello"
    assert (await _received(extra))["text"] == "hello"
    assert await _received(extra, timeout=0.3) is None
    assert await _received(channels["g.c"], timeout=0.3) is None


async def test_group_send_many_counts_copies_dropped_over_capacity():
    layer = get_channel_layer()
    layer.capacity = 2
    await _listen(["g.full"])

    drops = [await channels_adapter.group_send_many(layer, ["g.full"], EVENT) for _ in range(3)]

    assert drops == [0, 0, 1]


async def test_a_committed_write_is_published_and_a_rolled_back_one_never():
    channels = await _listen(["g.commit"])

    def write(rollback: bool, text: str) -> None:
        try:
            with transaction.atomic():
                publish.publish_on_commit(["g.commit"], {**EVENT, "text": text}, app="test")
                if rollback:
                    raise RuntimeError("the write failed")
        except RuntimeError:
            pass

    await database_sync_to_async(write)(True, "rolled back")
    await database_sync_to_async(write)(False, "committed")

    assert (await _received(channels["g.commit"]))["text"] == "committed"
    assert await _received(channels["g.commit"], timeout=0.3) is None


def test_a_message_builder_runs_after_the_commit():
    seen = []

    with transaction.atomic():
        publish.publish_on_commit(["g.late"], lambda: seen.append("built") or EVENT, app="test")
        assert seen == []
    assert seen == ["built"]


def test_a_failing_publish_is_counted_and_never_raised(monkeypatch):
    _break_the_channel_layer(monkeypatch)
    before = failures("test")

    with transaction.atomic():
        publish.publish_on_commit(["g.x"], EVENT, app="test")
    assert publish.publish_now(["g.x"], EVENT, app="test") is False
    assert async_to_sync(publish.apublish)(["g.x"], EVENT, app="test") is False

    assert failures("test") == before + 3


def test_a_failing_message_builder_is_counted_too():
    before = failures("test")

    def broken() -> dict:
        raise LookupError("the row went away")

    with transaction.atomic():
        publish.publish_on_commit(["g.x"], broken, app="test")

    assert failures("test") == before + 1


def test_a_chat_send_succeeds_and_is_stored_when_the_fan_out_fails(monkeypatch, make_user, client_for):
    from chat.models import Message
    from chat.services.conversations import conversation_create

    alice = make_user("alice")
    make_user("bob")
    direct, _ = conversation_create(creator=alice, usernames=["bob"])
    _break_the_channel_layer(monkeypatch)
    before = failures("chat")

    response = client_for(alice).post(f"/api/v1/chat/conversations/{direct.id}/messages",
                                      {"content": "stored anyway", "client_id": "c1"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["content"] == "stored anyway"
    assert list(Message.objects.filter(conversation=direct).values_list("content", flat=True)) == ["stored anyway"]
    assert failures("chat") == before + 1
