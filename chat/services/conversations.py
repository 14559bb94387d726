"""Conversation writes: creation (a direct pair exactly once), members added and removed."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from chat import errors, events
from chat.models import MAX_MEMBERS, Attachment, Conversation, Membership
from chat.services.messages import attachment_files_delete

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
    _check_member_cap(len(others) + 1)
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


def _check_member_cap(count: int) -> None:
    if count > MAX_MEMBERS:
        raise errors.invalid("members", f"A conversation has at most {MAX_MEMBERS} members.",
                             code=errors.ChatError.TOO_MANY_MEMBERS)


def _locked_conversation(conversation_id: int | str) -> Conversation:
    """The conversation, row-locked so member counts stay exact under races; NotFound otherwise."""
    try:
        return Conversation.objects.select_for_update().get(id=int(conversation_id))
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise errors.conversation_not_found() from None


def _refuse_direct(conversation: Conversation) -> None:
    if conversation.kind == Conversation.Kind.DIRECT:
        raise errors.invalid("members", "A direct conversation's members cannot change.",
                             code=errors.ChatError.DIRECT_CONVERSATION)


def _locked_group(conversation_id: int | str) -> Conversation:
    conversation = _locked_conversation(conversation_id)
    _refuse_direct(conversation)
    return conversation


def _locked_group_for_admin(actor, conversation_id: int | str) -> Conversation:
    conversation = _locked_conversation(conversation_id)
    membership = Membership.objects.filter(conversation=conversation, user=actor).first()
    if membership is None:
        raise errors.conversation_not_found()
    _refuse_direct(conversation)
    conversation.actor_is_admin = membership.role == Membership.Role.ADMIN
    return conversation


def _add_to_locked(conversation: Conversation, users: list, role: str = Membership.Role.MEMBER) -> None:
    present = set(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    new = [u for u in users if u.id not in present]
    _check_member_cap(len(present) + len(new))
    Membership.objects.bulk_create(
        [Membership(conversation=conversation, user=u, role=role) for u in new], ignore_conflicts=True
    )
    Conversation.objects.filter(id=conversation.id).update(last_activity_at=timezone.now())
    if new:
        everyone = list(present | {u.id for u in new})
        events.publish_on_commit(everyone, events.conversation_changed(conversation.id, "members"))


def _remove_from_locked(conversation: Conversation, users: list) -> None:
    before = list(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
    removed = Membership.objects.filter(conversation=conversation, user__in=users).delete()[0]
    if removed:
        # The removed members hear it too, so their list drops the conversation.
        events.publish_on_commit(before, events.conversation_changed(conversation.id, "members"))


def members_add(*, actor: User, conversation_id: int | str, usernames: list[str]) -> Conversation:
    """Admins add members to a group; the conversation row lock keeps the cap exact under races."""
    with transaction.atomic():
        conversation = _locked_group_for_admin(actor, conversation_id)
        if not conversation.actor_is_admin:
            raise errors.not_admin()
        _add_to_locked(conversation, _users_by_username(usernames))
    return conversation


def members_remove(*, actor: User, conversation_id: int | str, usernames: list[str]) -> Conversation:
    """Admins remove members; anyone may remove themselves (leave)."""
    with transaction.atomic():
        conversation = _locked_group_for_admin(actor, conversation_id)
        users = _users_by_username(usernames)
        if not conversation.actor_is_admin and any(u.id != actor.id for u in users):
            raise errors.not_admin()
        _remove_from_locked(conversation, users)
    return conversation


# --- staff (the admin site): no membership of their own, the same limits and events --------

def members_add_by_staff(*, conversation_id: int, users: list, role: str = Membership.Role.MEMBER) -> Conversation:
    """Staff add ``users`` to a group with ``role``: the member cap holds and members are told.

    Raises NotFound, FieldError ``too_many_members`` or ``direct_conversation``.
    """
    with transaction.atomic():
        conversation = _locked_group(conversation_id)
        _add_to_locked(conversation, users, role)
    return conversation


def members_remove_by_staff(*, conversation_id: int, users: list) -> Conversation:
    """Staff remove ``users`` from a group; every member before the change is told."""
    with transaction.atomic():
        conversation = _locked_group(conversation_id)
        _remove_from_locked(conversation, users)
    return conversation


def member_role_set_by_staff(*, conversation_id: int, user_id: int, role: str) -> None:
    """Staff make a member an admin of a group or a plain member again; members are told."""
    if role not in Membership.Role.values:
        raise errors.invalid("role", f"One of: {', '.join(Membership.Role.values)}.")
    with transaction.atomic():
        conversation = _locked_group(conversation_id)
        if Membership.objects.filter(conversation=conversation, user_id=user_id).exclude(role=role).update(role=role):
            members = list(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
            events.publish_on_commit(members, events.conversation_changed(conversation.id, "members"))


def conversation_rename_by_staff(*, conversation_id: int, title: str | None) -> None:
    """Staff change a group's title (at most 200 characters, blank clears it); members are told."""
    if title is not None and not isinstance(title, str):
        raise errors.invalid("title", "Must be a string.")
    title = (title or "").strip() or None
    if title and len(title) > 200:
        raise errors.invalid("title", "At most 200 characters.")
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        if conversation.kind == Conversation.Kind.DIRECT:
            raise errors.invalid("title", "A direct conversation has no title.",
                                 code=errors.ChatError.DIRECT_CONVERSATION)
        if conversation.title != title:
            Conversation.objects.filter(id=conversation.id).update(title=title)
            members = list(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
            events.publish_on_commit(members, events.conversation_changed(conversation.id, "title"))


def conversation_delete_by_staff(*, conversation_id: int) -> None:
    """Staff delete a conversation with its messages and files; its members' lists drop it."""
    with transaction.atomic():
        conversation = _locked_conversation(conversation_id)
        members = list(Membership.objects.filter(conversation=conversation).values_list("user_id", flat=True))
        attachments = list(Attachment.objects.filter(message__conversation=conversation))
        conversation.delete()
        transaction.on_commit(lambda: attachment_files_delete(attachments), robust=True)
        events.publish_on_commit(members, events.conversation_changed(conversation_id, "deleted"))
