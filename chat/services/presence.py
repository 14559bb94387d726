"""Online presence and typing.

A user is online while ``chat:presence:{id}`` lives (60 s, refreshed by pings and any
socket activity); a per-user socket counter makes several devices one presence, and
``last_seen`` is written when the last socket closes.
"""

import logging

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.utils import timezone

from chat import events, selectors, store
from chat.models import UserPresence
from chat.presenters import iso

User = get_user_model()
logger = logging.getLogger(__name__)

TYPING_MAX_GROUP = 100


async def presence_socket_opened(*, user: User) -> None:
    if await store.presence_connect(user.id) == 1:
        peers = await database_sync_to_async(selectors.direct_peer_ids)(user.id)
        await events.apublish(peers, events.presence(user.username, True, None))


async def presence_socket_closed(*, user: User) -> None:
    """Drop one socket; when it was the last one, persist last_seen and tell direct peers."""
    from chat.services.receipts import receipts_flush_user

    remaining = await store.presence_disconnect(user.id)
    try:
        await database_sync_to_async(receipts_flush_user)(user_id=user.id)
    except Exception:  # noqa: BLE001 - the receipts stay in Redis for the periodic flush
        logger.exception("receipts flush on disconnect failed for user %s", user.id)
    if remaining == 0:
        last_seen = timezone.now()
        peers = await database_sync_to_async(_record_last_seen)(user.id, last_seen)
        await events.apublish(peers, events.presence(user.username, False, iso(last_seen)))


def _record_last_seen(user_id: int, last_seen) -> list[int]:
    UserPresence.objects.update_or_create(user_id=user_id, defaults={"last_seen": last_seen})
    return selectors.direct_peer_ids(user_id)


async def presence_refresh(*, user: User) -> None:
    await store.presence_touch(user.id)


def typing_notify(*, user: User, conversation_id: int | str) -> bool:
    """Tell the other members that ``user`` types; throttled, and silent in groups over 100."""
    membership = selectors.membership_get(user=user, conversation_id=conversation_id)
    members = selectors.member_ids(membership.conversation_id)
    if len(members) > TYPING_MAX_GROUP:
        return False
    if not store.typing_claim(membership.conversation_id, user.id):
        return False
    others = [m for m in members if m != user.id]
    events.publish_on_commit(others, events.typing(membership.conversation_id, user.username))
    return True


