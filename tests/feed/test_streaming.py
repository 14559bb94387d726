"""Mastodon's streaming API at /api/v1/streaming: subscriptions and the events they carry."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from tests.feed.helpers import activate, follow, post

pytestmark = pytest.mark.django_db(transaction=True)


class Stream:
    def __init__(self, communicator):
        self.communicator = communicator

    async def send(self, frame) -> None:
        await self.communicator.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def silent(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout)


@pytest.fixture
async def open_stream():
    from config.asgi import application

    opened = []

    async def make(query: str, headers=None) -> Stream:
        communicator = WebsocketCommunicator(application, f"/api/v1/streaming?{query}", headers=headers or [])
        connected, _ = await communicator.connect()
        assert connected
        opened.append(communicator)
        return Stream(communicator)

    yield make
    for communicator in opened:
        try:
            await communicator.disconnect()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001, S110 - the app already ended
            pass


def token_of(user) -> str:
    from core.services import token_for

    return token_for(user).key


async def as_sync(function, *args, **kwargs):
    return await database_sync_to_async(function)(*args, **kwargs)


async def test_a_followers_user_stream_gets_the_update_with_the_status_as_json(alice, bob, as_user, open_stream):
    a, b = (await as_sync(as_user, alice)), (await as_sync(as_user, bob))
    await as_sync(follow, b, alice)
    await as_sync(activate, b)
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    status = await as_sync(post, a, "hello stream")
    frame = await stream.receive()
    assert frame["stream"] == ["user"] and frame["event"] == "update"
    payload = json.loads(frame["payload"])
    assert payload["id"] == status["id"] and payload["content"] == "<p>hello stream</p>"
    assert payload["account"]["username"] == "alice"


async def test_delete_sends_the_id(alice, bob, as_user, open_stream):
    a, b = (await as_sync(as_user, alice)), (await as_sync(as_user, bob))
    await as_sync(follow, b, alice)
    await as_sync(activate, b)
    status = await as_sync(post, a, "soon gone")
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    response = await as_sync(a.delete, f"/api/v1/statuses/{status['id']}")
    assert response.status_code == 200
    frame = await stream.receive()
    assert frame == {"stream": ["user"], "event": "delete", "payload": status["id"]}


async def test_a_subscribe_frame_and_notifications(alice, bob, as_user, open_stream):
    stream = await open_stream(f"access_token={await as_sync(token_of, alice)}")
    await stream.send({"type": "subscribe", "stream": "user:notification"})
    assert await stream.silent()
    await as_sync(follow, (await as_sync(as_user, bob)), alice)
    frame = await stream.receive()
    assert frame["stream"] == ["user:notification"] and frame["event"] == "notification"
    payload = json.loads(frame["payload"])
    assert payload["type"] == "follow" and payload["account"]["username"] == "bob"


async def test_user_notification_does_not_carry_updates(alice, bob, as_user, open_stream):
    await as_sync(follow, (await as_sync(as_user, alice)), bob)
    await as_sync(activate, (await as_sync(as_user, alice)))
    stream = await open_stream(f"stream=user:notification&access_token={await as_sync(token_of, alice)}")
    await as_sync(post, (await as_sync(as_user, bob)), "not a notification")
    assert await stream.silent(0.5)


async def test_the_public_stream_gets_public_posts_only(alice, bob, as_user, open_stream):
    stream = await open_stream(f"stream=public&access_token={await as_sync(token_of, bob)}")
    await as_sync(post, (await as_sync(as_user, alice)), "quiet", visibility="unlisted")
    loud = await as_sync(post, (await as_sync(as_user, alice)), "loud")
    frame = await stream.receive()
    assert frame["stream"] == ["public"] and json.loads(frame["payload"])["id"] == loud["id"]
    assert await stream.silent()


async def test_unsubscribe_stops_events(alice, as_user, open_stream):
    stream = await open_stream(f"stream=public&access_token={await as_sync(token_of, alice)}")
    await stream.send({"type": "unsubscribe", "stream": "public"})
    assert await stream.silent()  # the unsubscription is in place
    await as_sync(post, (await as_sync(as_user, alice)), "nobody listens")
    assert await stream.silent(0.5)


async def test_a_celebritys_post_reaches_followers_streams(alice, bob, as_user, open_stream, settings):
    from feed.models import FeedAccount

    b = (await as_sync(as_user, bob))
    await as_sync(follow, b, alice)
    await as_sync(activate, b)
    await as_sync(FeedAccount.objects.update_or_create, user=alice, defaults={"is_celebrity": True})
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    status = await as_sync(post, (await as_sync(as_user, alice)), "famous words")
    frame = await stream.receive()
    assert frame["event"] == "update" and json.loads(frame["payload"])["id"] == status["id"]


async def test_a_muted_authors_posts_do_not_stream(alice, bob, as_user, open_stream):
    b = (await as_sync(as_user, bob))
    await as_sync(follow, b, alice)
    await as_sync(activate, b)
    await as_sync(b.post, f"/api/v1/accounts/{alice.id}/mute")
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    await as_sync(post, (await as_sync(as_user, alice)), "muted words")
    assert await stream.silent(0.5)


@pytest.mark.parametrize("frame", ['{"type": "subscribe", "stream": "direct"}', "not json", '["subscribe"]',
                                   '{"type": "dance"}'])
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays(alice, open_stream, frame):
    stream = await open_stream(f"access_token={await as_sync(token_of, alice)}")
    await stream.send(frame)
    error = await stream.receive()
    assert error["type"] == "error" and error["status"] == 400 and error["error"]
    await stream.send({"type": "subscribe", "stream": "public"})
    assert await stream.silent()


async def test_a_wrong_token_is_closed_with_4401(open_stream):
    from config.asgi import application

    communicator = WebsocketCommunicator(application, "/api/v1/streaming?stream=user&access_token=nope")
    await communicator.connect()
    assert await communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}


async def test_an_oauth_token_streams_and_dies_when_revoked(alice, bob, as_user, open_stream):
    from rest_framework.test import APIClient

    from tests.feed.oauth_helpers import register_app, user_token

    app = await as_sync(register_app, "read")
    token = await as_sync(user_token, alice, scope="read", app=app)
    stream = await open_stream(f"stream=user&access_token={token}")
    await as_sync(follow, (await as_sync(as_user, bob)), alice)
    assert (await stream.receive())["event"] == "notification"
    await as_sync(APIClient().post, "/oauth/revoke", {"token": token, "client_id": app["client_id"],
                                                      "client_secret": app["client_secret"]})
    await stream.send({"type": "subscribe", "stream": "public"})
    assert await stream.communicator.receive_output(timeout=2) == {"type": "websocket.close", "code": 4401}


async def test_changing_an_attached_images_description_streams_status_update(alice, bob, as_user, open_stream,
                                                                             settings, tmp_path):
    from tests.feed.test_media import image_file

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    a, b = (await as_sync(as_user, alice)), (await as_sync(as_user, bob))
    await as_sync(follow, b, alice)
    await as_sync(activate, b)
    media = (await as_sync(a.post, "/api/v2/media", {"file": image_file()}, format="multipart")).json()
    status = await as_sync(post, a, "picture", media_ids=[media["id"]])
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    await as_sync(a.put, f"/api/v1/media/{media['id']}", {"description": "a red field"}, format="json")
    frame = await stream.receive()
    assert frame["event"] == "status.update"
    payload = json.loads(frame["payload"])
    assert payload["id"] == status["id"] and payload["media_attachments"][0]["description"] == "a red field"


async def test_the_public_stream_leaves_out_accounts_the_user_blocks(alice, bob, carol, as_user, open_stream):
    b = await as_sync(as_user, bob)
    await as_sync(b.post, f"/api/v1/accounts/{alice.id}/block")
    stream = await open_stream(f"stream=public&access_token={await as_sync(token_of, bob)}")
    await as_sync(post, await as_sync(as_user, alice), "blocked words")
    shown = await as_sync(post, await as_sync(as_user, carol), "carol's words")
    frame = await stream.receive()
    assert json.loads(frame["payload"])["id"] == shown["id"]
    assert await stream.silent()


async def test_an_oauth_token_streams_only_what_its_scopes_read(alice, bob, as_user, open_stream):
    from tests.feed.oauth_helpers import user_token

    token = await as_sync(user_token, alice, scope="read:notifications")
    stream = await open_stream(f"stream=user&access_token={token}")
    refused = await stream.receive()
    assert refused["type"] == "error" and refused["status"] == 403
    await stream.send({"type": "subscribe", "stream": "user:notification"})
    assert await stream.silent()  # the subscription is in place
    await as_sync(follow, await as_sync(as_user, bob), alice)
    frame = await stream.receive()
    assert frame["stream"] == ["user:notification"] and frame["event"] == "notification"


# --- publishing only to users someone listens for ---------------------------------------------
async def test_sockets_on_a_users_stream_are_counted_until_the_last_closes(alice, open_stream):
    from feed import store

    token = await as_sync(token_of, alice)
    first = await open_stream(f"stream=user&access_token={token}")
    second = await open_stream(f"stream=user:notification&access_token={token}")
    await open_stream(f"stream=public&access_token={token}")  # not the user's stream
    assert await as_sync(store.listening, [alice.id]) == [alice.id]

    await first.communicator.disconnect()
    assert await as_sync(store.listening, [alice.id]) == [alice.id]  # the second socket still listens
    await second.send({"type": "unsubscribe", "stream": "user:notification"})
    assert await second.silent()
    assert await as_sync(store.listening, [alice.id]) == []


async def test_the_fanout_publishes_updates_only_to_followers_with_an_open_socket(
        alice, bob, carol, as_user, open_stream, monkeypatch):
    from feed import events
    from feed.services import streaming

    a = await as_sync(as_user, alice)
    for reader in (bob, carol):
        client = await as_sync(as_user, reader)
        await as_sync(follow, client, alice)
        await as_sync(activate, client)
    stream = await open_stream(f"stream=user&access_token={await as_sync(token_of, bob)}")
    published: list[list[str]] = []
    publish = streaming.publish_now

    def recording(groups, message, **kwargs):
        published.append(list(groups))
        return publish(groups, message, **kwargs)

    monkeypatch.setattr(streaming, "publish_now", recording)
    status = await as_sync(post, a, "to the listening")

    assert json.loads((await stream.receive())["payload"])["id"] == status["id"]
    user_groups = {g for groups in published for g in groups if g != events.PUBLIC_GROUP}
    assert user_groups == {events.user_group(bob.id)}  # not carol (no socket), not alice (none either)
