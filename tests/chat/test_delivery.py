"""Fan-out through the channel layer: one group per user, nothing dropped in a 500-member burst."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model

from chat import events
from chat.services.conversations import conversation_create
from chat.services.messages import message_send

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 500
BURST = 5


def _big_group():
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"member{i:03}") for i in range(MEMBERS)]
    )
    conversation, _ = conversation_create(creator=users[0], usernames=[u.username for u in users[1:]], title="all")
    return users, conversation


async def test_a_500_member_burst_reaches_every_member_in_order(settings):
    settings.CHAT_SEND_RATE_LIMIT = (1000, 1)
    users, conversation = await database_sync_to_async(_big_group)()
    layer = get_channel_layer()
    channels = {}
    for user in users:  # one socket per member, as the consumer registers it
        channels[user.id] = await layer.new_channel()
        await layer.group_add(events.user_group(user.id), channels[user.id])

    for i in range(BURST):
        await database_sync_to_async(message_send)(
            sender=users[0], conversation_id=conversation.id, client_id=f"burst{i}", content=f"#{i}")

    async def drain(channel: str) -> list[int]:
        import json

        return [json.loads((await layer.receive(channel))["text"])["message"]["seq"] for _ in range(BURST)]

    received = await asyncio.wait_for(asyncio.gather(*(drain(c) for c in channels.values())), timeout=60)
    assert all(seqs == list(range(1, BURST + 1)) for seqs in received)
