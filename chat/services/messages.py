"""Message writes shared by the WebSocket consumer and the REST API.

``seq`` is assigned under the conversation row lock (``select_for_update`` on
PostgreSQL; SQLite runs IMMEDIATE transactions, one writer at a time) in the same
transaction as the insert, so seqs are gapless and unique and a committed message
never appears behind one already delivered with a higher seq.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import errors, events, selectors, store
from chat.models import (
    MAX_CONTENT_LENGTH,
    Attachment,
    Conversation,
    Membership,
    Message,
    MessageChange,
    NotificationOutbox,
    Reaction,
)
from core.ids import parse_id
from core.ratelimit import RateLimit, check, rate_limited_error
from core.tasks import enqueue_on_commit

User = get_user_model()

MAX_CLIENT_ID_LENGTH = 64
MAX_ATTACHMENTS = 10
MAX_EMOJI_LENGTH = 32


def send_rate_rule() -> RateLimit:
    limit, period = getattr(settings, "CHAT_SEND_RATE_LIMIT", (30, 10.0))
    return RateLimit("chat-send", int(limit), float(period))


def _validate_content(content, *, has_attachments: bool) -> str:
    if not isinstance(content, str):
        raise errors.invalid("content", "Must be a string.")
    if len(content) > MAX_CONTENT_LENGTH:
        raise errors.invalid("content", f"At most {MAX_CONTENT_LENGTH} characters.", code=errors.ChatError.TOO_LONG)
    if not content.strip() and not has_attachments:
        raise errors.invalid("content", "A message needs content or attachments.", code=errors.ChatError.EMPTY_MESSAGE)
    return content


def _validate_attachment_ids(attachment_ids) -> list[int]:
    if attachment_ids in (None, ""):
        return []
    if not isinstance(attachment_ids, list) or len(attachment_ids) > MAX_ATTACHMENTS:
        raise errors.invalid("attachment_ids", f"Give a list of at most {MAX_ATTACHMENTS} attachment ids.")
    ids = [parse_id(a) for a in attachment_ids]
    if None in ids:
        raise errors.invalid("attachment_ids", "Attachment ids are integers from 0 to 2^63-1.")
    return list(dict.fromkeys(ids))


def message_send(*, sender: User, conversation_id: int | str, client_id: str, content: str = "",
                 attachment_ids: list | None = None, origin_channel: str | None = None) -> tuple[dict, bool]:
    """Store a message and announce it after commit; returns ``(message payload, created)``.

    The same ``client_id`` from the same sender in the same conversation returns the stored
    message (``created`` False) and announces nothing, also when the retries race.
    Every member's sockets get ``message.new`` except ``origin_channel`` (it gets an ack from
    its caller); members without an open socket get an outbox row for a push.
    Raises NotFound (not a member), FieldError (content, client_id, attachments),
    ApplicationError ``blocked`` (403) or ``rate_limited`` (429).
    """
    if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_CLIENT_ID_LENGTH:
        raise errors.invalid("client_id", f"A string of 1 to {MAX_CLIENT_ID_LENGTH} characters.")
    ids = _validate_attachment_ids(attachment_ids)
    content = _validate_content(content, has_attachments=bool(ids))
    membership = selectors.membership_get(user=sender, conversation_id=conversation_id)
    conversation_id = membership.conversation_id
    existing = Message.objects.filter(conversation_id=conversation_id, sender=sender, client_id=client_id).first()
    if existing:
        return selectors.message_payload_by_id(existing.id), False
    decision = check(send_rate_rule(), str(sender.id))
    if not decision.allowed:
        raise rate_limited_error(decision)
    try:
        payload = _store(sender, conversation_id, client_id, content, ids, origin_channel)
    except IntegrityError:
        # A concurrent retry with the same client_id committed first.
        existing = Message.objects.filter(conversation_id=conversation_id, sender=sender, client_id=client_id).first()
        if existing is None:
            raise
        return selectors.message_payload_by_id(existing.id), False
    if payload is None:  # found under the lock: an earlier retry committed meanwhile
        existing = Message.objects.get(conversation_id=conversation_id, sender=sender, client_id=client_id)
        return selectors.message_payload_by_id(existing.id), False
    return payload, True


def _store(sender, conversation_id: int, client_id: str, content: str, attachment_ids: list[int],
           origin_channel: str | None) -> dict | None:
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(id=conversation_id)
        if Message.objects.filter(conversation=conversation, sender=sender, client_id=client_id).exists():
            return None
        members = selectors.member_ids(conversation.id)
        if sender.id not in members:
            raise errors.conversation_not_found()
        if conversation.kind == Conversation.Kind.DIRECT:
            other = next((m for m in members if m != sender.id), None)
            if other is not None and selectors.is_blocked_between(sender.id, other):
                raise errors.blocked()
        now = timezone.now()
        conversation.last_seq += 1
        conversation.last_activity_at = now
        conversation.save(update_fields=["last_seq", "last_activity_at"])
        message = Message.objects.create(
            conversation=conversation, seq=conversation.last_seq, sender=sender, client_id=client_id, content=content
        )
        if attachment_ids:
            # Only the sender's own, still unattached uploads; the WHERE makes a race lose cleanly.
            attached = Attachment.objects.filter(id__in=attachment_ids, owner=sender, message__isnull=True).update(
                message=message
            )
            if attached != len(attachment_ids):
                raise errors.invalid("attachment_ids", "Unknown or already used attachment.",
                                     code=errors.ChatError.BAD_ATTACHMENTS)
        # Your own message is read by you: it never counts as unread.
        Membership.objects.filter(conversation=conversation, user=sender).update(
            read_seq=message.seq, delivered_seq=message.seq
        )
        others = [m for m in members if m != sender.id]
        offline = set(others) - store.users_with_open_sockets(others)
        if offline:
            NotificationOutbox.objects.bulk_create(
                [NotificationOutbox(user_id=u, message=message) for u in offline], ignore_conflicts=True
            )
        payload = selectors.message_payload_by_id(message.id)
        # After commit, and never able to fail the stored send: the socket fan-out is best
        # effort (sync repairs it) and the beat schedule drains an outbox a lost task left.
        events.publish_on_commit(members, events.message_new(payload), skip_channel=origin_channel)
        if offline:
            from chat.tasks import deliver_notifications  # chat.tasks imports the services

            # Best effort: the outbox rows are committed and beat drains what a lost task left.
            enqueue_on_commit(deliver_notifications, app=events.APP)
    return payload


def _own_message_for_update(user, message_id: int | str) -> Message:
    message = selectors.message_get_for_member(user=user, message_id=message_id)
    if message.sender_id != user.id:
        raise errors.not_sender()
    return message


def _record_change(message: Message) -> int:
    """Take the conversation's next change number for ``message`` (under the conversation row
    lock, so numbers are unique and follow commit order); ``sync`` replays changes after a cursor."""
    conversation = Conversation.objects.select_for_update().only("id", "last_change").get(id=message.conversation_id)
    conversation.last_change += 1
    conversation.save(update_fields=["last_change"])
    MessageChange.objects.update_or_create(
        message_id=message.id, defaults={"conversation_id": conversation.id, "change": conversation.last_change}
    )
    return conversation.last_change


def _announce_update(message: Message) -> None:
    members = selectors.member_ids(message.conversation_id)
    message_id = message.id
    change = _record_change(message)
    events.publish_on_commit(
        members, lambda: events.message_updated(selectors.message_payload_by_id(message_id), change=change)
    )


def _message_for_staff(message_id: int | str) -> Message:
    try:
        return Message.objects.select_for_update().get(id=int(message_id))
    except (Message.DoesNotExist, ValueError, TypeError):
        raise errors.message_not_found() from None


def _edit(message: Message, content) -> None:
    if message.deleted:
        raise errors.invalid("content", "A deleted message cannot be edited.", code=errors.ChatError.MESSAGE_DELETED)
    content = _validate_content(content, has_attachments=message.attachments.exists())
    Message.objects.filter(id=message.id).update(content=content, edited_at=timezone.now())
    _announce_update(message)


def _tombstone(message: Message) -> None:
    if message.deleted:
        return
    Message.objects.filter(id=message.id).update(deleted=True, content="", edited_at=timezone.now())
    Reaction.objects.filter(message=message).delete()
    attachments = list(Attachment.objects.filter(message=message))
    Attachment.objects.filter(id__in=[a.id for a in attachments]).delete()
    # Files go only once the tombstone is committed.
    transaction.on_commit(lambda: attachment_files_delete(attachments), robust=True)
    _announce_update(message)


def message_edit(*, user: User, message_id: int | str, content: str) -> dict:
    """The sender changes the text of a live message (``message.updated`` to every member)."""
    with transaction.atomic():
        message = _own_message_for_update(user, message_id)
        _edit(message, content)
    return selectors.message_payload_by_id(message.id)


def message_delete(*, user: User, message_id: int | str) -> dict:
    """The sender deletes a message: it stays as a tombstone so seqs stay gapless."""
    with transaction.atomic():
        message = _own_message_for_update(user, message_id)
        _tombstone(message)
    return selectors.message_payload_by_id(message.id)


def message_edit_by_staff(*, message_id: int | str, content: str) -> dict:
    """Staff (the admin site) change any live message's text: the same limits on the text and the
    same ``message.updated`` event as ``message_edit``. Raises NotFound or FieldError."""
    with transaction.atomic():
        _edit(_message_for_staff(message_id), content)
    return selectors.message_payload_by_id(int(message_id))


def message_delete_by_staff(*, message_id: int | str) -> dict:
    """Staff delete any message the way its sender would: a tombstone (seqs stay gapless), its
    reactions and files gone, ``message.updated`` to every member. Idempotent; raises NotFound."""
    with transaction.atomic():
        _tombstone(_message_for_staff(message_id))
    return selectors.message_payload_by_id(int(message_id))


def attachment_files_delete(attachments: list[Attachment]) -> None:
    """Remove stored files (and thumbnails) of attachments whose rows are gone; call after commit."""
    for attachment in attachments:
        attachment.file.delete(save=False)
        if attachment.thumbnail:
            attachment.thumbnail.delete(save=False)


def _validate_emoji(emoji) -> str:
    if not isinstance(emoji, str) or not emoji.strip() or len(emoji) > MAX_EMOJI_LENGTH or any(c.isspace() for c in emoji):
        raise errors.invalid("emoji", f"One emoji (at most {MAX_EMOJI_LENGTH} characters, no spaces).")
    return emoji


def reaction_add(*, user: User, message_id: int | str, emoji: str) -> dict:
    """Any member reacts once per emoji (the unique constraint absorbs races)."""
    emoji = _validate_emoji(emoji)
    message = selectors.message_get_for_member(user=user, message_id=message_id)
    if message.deleted:
        raise errors.invalid("emoji", "A deleted message cannot get reactions.", code=errors.ChatError.MESSAGE_DELETED)
    with transaction.atomic():
        Reaction.objects.bulk_create([Reaction(message=message, user=user, emoji=emoji)], ignore_conflicts=True)
        _announce_update(message)
    return selectors.message_payload_by_id(message.id)


def reaction_remove(*, user: User, message_id: int | str, emoji: str) -> dict:
    emoji = _validate_emoji(emoji)
    message = selectors.message_get_for_member(user=user, message_id=message_id)
    with transaction.atomic():
        removed, _ = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()
        if removed:
            _announce_update(message)
    return selectors.message_payload_by_id(message.id)


def reaction_remove_by_staff(*, reaction_id: int) -> None:
    """Staff remove any reaction (also of a former member); members see the message change."""
    with transaction.atomic():
        reaction = Reaction.objects.select_related("message").filter(id=reaction_id).first()
        if reaction is not None:
            reaction.delete()
            _announce_update(reaction.message)
