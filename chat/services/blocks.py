"""Blocking: a blocked pair cannot exchange direct messages."""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from chat import errors, selectors
from chat.models import Block

User = get_user_model()


def block_create(*, blocker: User, username: str) -> tuple[Block, bool]:
    """Block ``username``; idempotent (the unique constraint decides under races)."""
    if not isinstance(username, str) or not username:
        raise errors.invalid("username", "This field is required.")
    blocked = selectors.user_by_username(username)
    if blocked.id == blocker.id:
        raise errors.invalid("username", "You cannot block yourself.")
    existing = Block.objects.filter(blocker=blocker, blocked=blocked).first()
    if existing:
        return existing, False
    try:
        with transaction.atomic():
            return Block.objects.create(blocker=blocker, blocked=blocked), True
    except IntegrityError:
        return Block.objects.get(blocker=blocker, blocked=blocked), False


def block_delete(*, blocker: User, username: str) -> None:
    Block.objects.filter(blocker=blocker, blocked__username=username).delete()
