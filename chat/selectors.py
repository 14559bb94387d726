"""Reads of the chat, always scoped to the caller's conversations (another user's → 404)."""

from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db.models import Prefetch, Q, QuerySet

from chat import errors, store
from chat.models import (
    Attachment,
    Block,
    Conversation,
    Membership,
    Message,
    MessageChange,
    Notification,
    Reaction,
    UserPresence,
)
from chat.presenters import conversation_payload, iso, message_payload
from core.errors import FieldError
from core.ids import parse_id

User = get_user_model()

MESSAGE_PAGE_MAX = 200
SYNC_BATCH = 500
SEARCH_LIMIT = 50
USER_SEARCH_LIMIT = 20


def with_message_relations(queryset: QuerySet[Message]) -> QuerySet[Message]:
    return queryset.select_related("sender").prefetch_related(
        "attachments", Prefetch("reactions", queryset=Reaction.objects.select_related("user"))
    )


def _with_members(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return queryset.prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("id"))
    )


def membership_get(*, user: User, conversation_id: int | str) -> Membership:
    """The caller's membership (with its conversation); NotFound when they are not a member
    or ``conversation_id`` is no valid id (past 64 bits, negative, not a number)."""
    conversation_id = parse_id(conversation_id)
    if conversation_id is None:
        raise errors.conversation_not_found()
    try:
        return Membership.objects.select_related("conversation").get(conversation_id=conversation_id, user=user)
    except Membership.DoesNotExist:
        raise errors.conversation_not_found() from None


def member_ids(conversation_id: int) -> list[int]:
    return list(Membership.objects.filter(conversation_id=conversation_id).values_list("user_id", flat=True))


def direct_peer_ids(user_id: int) -> list[int]:
    """Users sharing a direct conversation with ``user_id`` (they see each other's presence)."""
    direct = Membership.objects.filter(user_id=user_id, conversation__kind=Conversation.Kind.DIRECT)
    return list(
        Membership.objects.filter(conversation_id__in=direct.values("conversation_id"))
        .exclude(user_id=user_id)
        .values_list("user_id", flat=True)
        .distinct()
    )


def _read_pointer(membership: Membership, redis_pointers: dict[int, dict[str, int]]) -> int:
    return max(membership.read_seq, redis_pointers.get(membership.conversation_id, {}).get("read", 0))


def conversation_list(*, user: User) -> list[dict]:
    """The caller's conversations, most recent activity first, with last message and unread count.

    A fixed number of queries whatever the number of conversations.
    """
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("conversation")
        .order_by("-conversation__last_activity_at", "-conversation_id")
    )
    conversations = {m.conversation_id: m.conversation for m in memberships}
    if not memberships:
        return []
    with_members = {c.id: c for c in _with_members(Conversation.objects.filter(id__in=list(conversations)))}
    last_keys = Q()
    for conversation in conversations.values():
        if conversation.last_seq:
            last_keys |= Q(conversation_id=conversation.id, seq=conversation.last_seq)
    last_messages = (
        {m.conversation_id: m for m in with_message_relations(Message.objects.filter(last_keys))}
        if last_keys else {}
    )
    redis_pointers = store.receipt_pointers(user.id)
    result = []
    for membership in memberships:
        conversation = with_members[membership.conversation_id]
        last = last_messages.get(conversation.id)
        payload = conversation_payload(conversation)
        payload["last_message"] = message_payload(last) if last else None
        payload["unread_count"] = max(0, conversation.last_seq - _read_pointer(membership, redis_pointers))
        result.append(payload)
    return result


def conversation_detail(*, user: User, conversation_id: int | str) -> dict:
    """One conversation with receipts of every member (Redis pointers over flushed ones)."""
    membership = membership_get(user=user, conversation_id=conversation_id)
    conversation = _with_members(Conversation.objects.filter(id=membership.conversation_id)).get()
    return conversation_with_extras(conversation, viewer=user, include_receipts=True)


def conversation_for_response(*, conversation_id: int, viewer) -> dict:
    """A conversation as the API returns it after a write (the viewer may just have left it)."""
    conversation = _with_members(Conversation.objects.filter(id=conversation_id)).get()
    return conversation_with_extras(conversation, viewer=viewer)


def conversation_with_extras(conversation: Conversation, *, viewer, include_receipts: bool = False) -> dict:
    payload = conversation_payload(conversation)
    last = None
    if conversation.last_seq:
        last = with_message_relations(Message.objects.filter(conversation=conversation, seq=conversation.last_seq)).first()
    payload["last_message"] = message_payload(last) if last else None
    memberships = list(conversation.memberships.all())
    redis_pointers = store.receipt_pointers_many([m.user_id for m in memberships], conversation.id)
    receipts = {
        m.user.username: {
            "delivered_seq": max(m.delivered_seq, m.read_seq, redis_pointers[m.user_id]["delivered"],
                                 redis_pointers[m.user_id]["read"]),
            "read_seq": max(m.read_seq, redis_pointers[m.user_id]["read"]),
        }
        for m in memberships
    }
    mine = receipts.get(viewer.username, {"read_seq": conversation.last_seq})
    payload["unread_count"] = max(0, conversation.last_seq - mine["read_seq"])
    if include_receipts:
        payload["receipts"] = receipts
    return payload


def message_list(*, user: User, conversation_id: int | str, after_seq: int | None = None,
                 before_seq: int | None = None, limit: int = 50) -> list[dict]:
    """Messages in ``seq`` order: the first ``limit`` after ``after_seq``, or the last ``limit``
    before ``before_seq`` (the latest page when neither is given)."""
    membership = membership_get(user=user, conversation_id=conversation_id)
    limit = max(1, min(limit, MESSAGE_PAGE_MAX))
    queryset = Message.objects.filter(conversation_id=membership.conversation_id)
    if after_seq is not None:
        queryset = queryset.filter(seq__gt=after_seq)
    if before_seq is not None:
        queryset = queryset.filter(seq__lt=before_seq)
    if after_seq is not None and before_seq is None:
        page = list(with_message_relations(queryset.order_by("seq")[:limit]))
    else:
        page = list(with_message_relations(queryset.order_by("-seq")[:limit]))[::-1]
    return [message_payload(m) for m in page]


def message_get_for_member(*, user: User, message_id: int | str) -> Message:
    message_id = parse_id(message_id)
    if message_id is None:
        raise errors.message_not_found()
    try:
        message = Message.objects.select_related("conversation", "sender").get(id=message_id)
    except Message.DoesNotExist:
        raise errors.message_not_found() from None
    if not Membership.objects.filter(conversation_id=message.conversation_id, user=user).exists():
        raise errors.message_not_found()
    return message


def attachment_for_download(*, user: User, attachment_id: int | str) -> Attachment:
    """An attachment its uploader or a member of its message's conversation may read;
    NotFound otherwise (whether it exists is not revealed)."""
    attachment_id = parse_id(attachment_id)
    attachment = (
        Attachment.objects.select_related("message").filter(id=attachment_id).first()
        if attachment_id is not None else None
    )
    if attachment is None:
        raise errors.attachment_not_found()
    if attachment.owner_id == user.id:
        return attachment
    if attachment.message is not None and not attachment.message.deleted and Membership.objects.filter(
        conversation_id=attachment.message.conversation_id, user=user
    ).exists():
        return attachment
    raise errors.attachment_not_found()


def message_payload_by_id(message_id: int) -> dict:
    return message_payload(with_message_relations(Message.objects.filter(id=message_id)).get())


def _check_cursors(field: str, cursors: dict) -> None:
    if any(parse_id(key) is None or parse_id(value) is None for key, value in cursors.items()):
        raise FieldError({field: "Conversation ids and positions are integers from 0 to 2^63-1."})


def change_positions(*, user: User) -> dict[int, int]:
    """The last change number of each of the caller's conversations (taken before a sync replays
    messages, so any later change reaches the socket live)."""
    return dict(Membership.objects.filter(user=user).values_list("conversation_id", "conversation__last_change"))


def sync_change_batches(*, user: User, changes: dict[int, int], positions: dict[int, int],
                        seq_cursors: dict[int, int]) -> Iterator[tuple[list[tuple[int, dict]], dict[str, int]]]:
    """Messages edited, deleted or reacted to after each change cursor, up to ``positions``
    (``change_positions``), in change order, each once in its current state, in batches.

    Messages after a conversation's seq cursor are left out: sync sends them whole as new.
    Conversations missing from ``changes`` replay nothing; the final cursors hold their
    position. Yields ``([(change, message payload)], change cursors so far)``. Raises
    FieldError ``changes`` when an id or cursor is not within 0..2^63-1.
    """
    _check_cursors("changes", changes)
    new_cursors: dict[str, int] = {}
    for conversation_id, position in positions.items():
        if conversation_id not in changes:
            new_cursors[str(conversation_id)] = position
            continue
        cursor = changes[conversation_id]
        new_cursors[str(conversation_id)] = cursor
        while cursor < position:
            rows = list(
                MessageChange.objects.filter(conversation_id=conversation_id, change__gt=cursor, change__lte=position)
                .order_by("change").values_list("change", "message_id")[:SYNC_BATCH]
            )
            if not rows:
                break
            cursor = rows[-1][0]
            new_cursors[str(conversation_id)] = cursor
            messages = Message.objects.filter(id__in=[message_id for _, message_id in rows])
            if conversation_id in seq_cursors:
                messages = messages.filter(seq__lte=seq_cursors[conversation_id])
            by_id = {m.id: m for m in with_message_relations(messages)}
            yield [(change, message_payload(by_id[m])) for change, m in rows if m in by_id], dict(new_cursors)
    yield [], new_cursors


def sync_batches(*, user: User, cursors: dict[int, int]) -> Iterator[tuple[list[dict], dict[str, int]]]:
    """Every message after each cursor of the caller's conversations, in ``seq`` order, in batches.

    Conversations missing from ``cursors`` replay nothing; the final cursors hold their
    current last seq. Yields ``(messages, cursors so far)``. Raises FieldError ``cursors`` when
    a conversation id or seq is not within 0..2^63-1.
    """
    _check_cursors("cursors", cursors)
    memberships = Membership.objects.filter(user=user).values_list("conversation_id", "conversation__last_seq")
    new_cursors: dict[str, int] = {}
    for conversation_id, last_seq in memberships:
        if conversation_id not in cursors:
            new_cursors[str(conversation_id)] = last_seq
            continue
        cursor = cursors[conversation_id]
        new_cursors[str(conversation_id)] = max(cursor, 0)
        while cursor < last_seq:
            batch = list(with_message_relations(
                Message.objects.filter(conversation_id=conversation_id, seq__gt=cursor, seq__lte=last_seq)
                .order_by("seq")[:SYNC_BATCH]
            ))
            if not batch:
                break
            cursor = batch[-1].seq
            new_cursors[str(conversation_id)] = cursor
            yield [message_payload(m) for m in batch], dict(new_cursors)
    yield [], new_cursors


def message_search(*, user: User, query: str, conversation_id: int | str | None = None) -> list[dict]:
    """Ranked matches in the caller's conversations (PostgreSQL full-text; SQLite: substring)."""
    mine = Membership.objects.filter(user=user).values("conversation_id")
    queryset = Message.objects.filter(conversation_id__in=mine, deleted=False)
    if conversation_id not in (None, ""):
        membership = membership_get(user=user, conversation_id=conversation_id)
        queryset = queryset.filter(conversation_id=membership.conversation_id)
    if settings.IS_POSTGRES:
        vector = SearchVector("content", config="simple")
        search = SearchQuery(query, config="simple", search_type="websearch")
        queryset = (
            queryset.annotate(search=vector, rank=SearchRank(vector, search))
            .filter(search=search)
            .order_by("-rank", "-id")
        )
    else:
        queryset = queryset.filter(content__icontains=query).order_by("-id")
    return [message_payload(m) for m in with_message_relations(queryset[:SEARCH_LIMIT])]


def user_by_username(username: str):
    try:
        return User.objects.get(username=username, is_active=True)
    except User.DoesNotExist:
        raise errors.user_not_found() from None


def shares_conversation(user_id: int, other_id: int) -> bool:
    """Whether the two users are members of one conversation (or are the same user)."""
    if user_id == other_id:
        return True
    mine = Membership.objects.filter(user_id=user_id).values("conversation_id")
    return Membership.objects.filter(user_id=other_id, conversation_id__in=mine).exists()


def presence_of(*, viewer: User, username: str) -> dict:
    """Online state and last seen of ``username``; NotFound unless the viewer shares a
    conversation with them (presence is not for strangers, nor is whether the name exists)."""
    user = user_by_username(username)
    if not shares_conversation(viewer.id, user.id):
        raise errors.user_not_found()
    record = UserPresence.objects.filter(user=user).first()
    return {"online": store.is_online(user.id), "last_seen": iso(record.last_seen) if record else None}


USER_SEARCH_MIN_LENGTH = 3


def user_search(*, query: str, exclude: User | None = None) -> list[dict]:
    """At most USER_SEARCH_LIMIT active users whose name starts with ``query`` (at least
    USER_SEARCH_MIN_LENGTH characters, so the directory cannot be listed a letter at a time)."""
    query = query.strip()
    if len(query) < USER_SEARCH_MIN_LENGTH:
        raise FieldError({"q": f"Type at least {USER_SEARCH_MIN_LENGTH} characters."})
    queryset = User.objects.filter(is_active=True, username__istartswith=query).order_by("username")
    if exclude is not None:
        queryset = queryset.exclude(id=exclude.id)
    return [{"username": u} for u in queryset.values_list("username", flat=True)[:USER_SEARCH_LIMIT]]


def block_list(*, user: User) -> list[dict]:
    return [
        {"username": username, "created_at": iso(created_at)}
        for username, created_at in Block.objects.filter(blocker=user)
        .order_by("-created_at").values_list("blocked__username", "created_at")
    ]


def is_blocked_between(user_a_id: int, user_b_id: int) -> bool:
    return Block.objects.filter(
        Q(blocker_id=user_a_id, blocked_id=user_b_id) | Q(blocker_id=user_b_id, blocked_id=user_a_id)
    ).exists()


def notification_list(*, user: User, limit: int = 50) -> dict:
    rows = Notification.objects.filter(user=user).order_by("-created_at", "-id")[:limit]
    return {
        "unread": Notification.objects.filter(user=user, read=False).count(),
        "results": [
            {"id": str(n.id), "conversation": str(n.conversation_id), "message": str(n.message_id),
             "preview": n.preview, "created_at": iso(n.created_at), "read": n.read}
            for n in rows
        ],
    }
