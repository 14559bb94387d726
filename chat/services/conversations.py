"""Conversation writes: creation (a direct pair exactly once), members added and removed."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import errors, events
from chat.models import MAX_MEMBERS, Conversation, Membership

User = get_user_model()


def _direct_key(user_a_id: int, user_b_id: int) -> str:
    low, high = sorted((user_a_id, user_b_id))
    return f"{low}:{high}"


def _users_by_username(usernames: list[str], *, field: str = "members") -> list:
    if not isinstance(usernames, list) or not all(isinstance(u, str) and u for u in usernames):
        raise errors.invalid(field, "Give a list of usernames.")
    wanted = list(dict.fromkeys(usernames))
    users = {u.username: u for u in User.objects.filter(username__in=wanted, is_active=True)}
    missing = [u for u in wanted if u not in users]
    if missing:
        raise errors.invalid(field, f"Unknown users: {', '.join(missing[:10])}.", code=errors.ChatError.UNKNOWN_USERS)
    return [users[u] for u in wanted]


def conversation_create(*, creator: User, usernames: list[str], title: str | None = None) -> tuple[Conversation, bool]:
    """Create a conversation of ``creator`` and ``usernames``; returns ``(conversation, created)``.

    One other member and no title makes a direct conversation, created once per pair
    (concurrent calls converge on the row the unique ``direct_key`` let through).
    Anything else is a group (creator is its admin) of at most MAX_MEMBERS members.
    Raises FieldError for unknown users, too many members or an empty member list.
    """
    if title is not None and not isinstance(title, str):
        raise errors.invalid("title", "Must be a string.")
    title = (title or "").strip() or None
    if title and len(title) > 200:
        raise errors.invalid("title", "At most 200 characters.")
    others = [u for u in _users_by_username(usernames) if u.id != creator.id]
    if not others:
        raise errors.invalid("members", "Name at least one other user.")
    if len(others) + 1 > MAX_MEMBERS:
        raise errors.invalid("members", f"A conversation has at most {MAX_MEMBERS} members.",
                             code=errors.ChatError.TOO_MANY_MEMBERS)
    if len(others) == 1 and title is None:
        return _direct_get_or_create(creator, others[0])
    with transaction.atomic():
        conversation = Conversation.objects.create(kind=Conversation.Kind.GROUP, title=title, created_by=creator)
        Membership.objects.bulk_create(
            [Membership(conversation=conversation, user=creator, role=Membership.Role.ADMIN)]
            + [Membership(conversation=conversation, user=u) for u in others]
        )
        events.publish_on_commit([u.id for u in others], events.conversation_changed(conversation.id, "created"))
    return conversation, True


def _direct_get_or_create(creator, other) -> tuple[Conversation, bool]:
    key = _direct_key(creator.id, other.id)
    existing = Conversation.objects.filter(direct_key=key).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            conversation = Conversation.objects.create(kind=Conversation.Kind.DIRECT, direct_key=key, created_by=creator)
            Membership.objects.bulk_create([
                Membership(conversation=conversation, user=creator, role=Membership.Role.ADMIN),
                Membership(conversation=conversation, user=other, role=Membership.Role.ADMIN),
            ])
            events.publish_on_commit([other.id], events.conversation_changed(conversation.id, "created"))
    except IntegrityError:
        return Conversation.objects.get(direct_key=key), False
    return conversation, True


def _locked_group_for_admin(actor, conversation_id: int | str) -> Conversation:
    try:
        conversation = Conversation.objects.select_for_update().get(id=int(conversation_id))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise errors.conversation_not_found() from None
    membership = Membership.objects.filter(conversation=conversation, user=actor).first()
    if membership is None:
        raise errors.conversation_not_found()
    if conversation.kind == Conversation.Kind.DIRECT:
        raise errors.invalid("members", "A direct conversation's members cannot change.",
                             code=errors.ChatError.DIRECT_CONVERSATION)
    conversation.actor_is_admin = membership.role == Membership.Role.ADMIN
    return conversation


def members_add(*, actor: User, conversation_id: int | str, usernames: list[str]) -> Conversation:
    """Admins add members to a group; the conversation row lock keeps the cap exact under races."""
    with transaction.atomic():
        conversation = _locked_group_for_admin(actor, conversation_id)
        if not conversation.actor_is_admin:
            raise errors.not_admin()
        users = _users_by_username(usernames)
        present = set(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        new = [u for u in users if u.id not in present]
        if len(present) + len(new) > MAX_MEMBERS:
            raise errors.invalid("members", f"A conversation has at most {MAX_MEMBERS} members.",
                                 code=errors.ChatError.TOO_MANY_MEMBERS)
        Membership.objects.bulk_create(
            [Membership(conversation=conversation, user=u) for u in new], ignore_conflicts=True
        )
        Conversation.objects.filter(id=conversation.id).update(last_activity_at=timezone.now())
        if new:
            everyone = list(present | {u.id for u in new})
            events.publish_on_commit(everyone, events.conversation_changed(conversation.id, "members"))
    return conversation


def members_remove(*, actor: User, conversation_id: int | str, usernames: list[str]) -> Conversation:
    """Admins remove members; anyone may remove themselves (leave)."""
    with transaction.atomic():
        conversation = _locked_group_for_admin(actor, conversation_id)
        users = _users_by_username(usernames)
        if not conversation.actor_is_admin and any(u.id != actor.id for u in users):
            raise errors.not_admin()
        before = list(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        removed = Membership.objects.filter(conversation=conversation, user__in=users).delete()[0]
        if removed:
            # The removed members hear it too, so their list drops the conversation.
            events.publish_on_commit(before, events.conversation_changed(conversation.id, "members"))
    return conversation
