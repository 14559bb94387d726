"""Follows, blocks and mutes between accounts; each is idempotent (unique constraints decide)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from core.ids import parse_id
from feed import errors, store
from feed.models import Block, Follow, Mute, Notification
from feed.services.notifications import notify
from feed.services.viewers import viewers_forget_on_commit

User = get_user_model()


def account_get(*, account_id) -> User:
    """An active user by id; raises NotFound."""
    parsed = parse_id(account_id)
    user = User.objects.filter(id=parsed, is_active=True).first() if parsed is not None else None
    if user is None:
        raise errors.record_not_found()
    return user


def _other(account: User, target_id) -> User:
    target = account_get(account_id=target_id)
    if target.id == account.id:
        raise errors.not_allowed()
    return target


def _follow_changed(follower_id: int, followee_id: int, delta: int) -> None:
    """After commit: count, update the follower's timeline, and check the celebrity threshold."""
    from feed import tasks
    from feed.services.fanout import is_celebrity

    values = store.counters_increment([
        ("a", follower_id, "following_count", delta), ("a", followee_id, "followers_count", delta),
    ])
    if delta > 0:
        tasks.merge_author.delay(reader_id=follower_id, author_id=followee_id)
    else:
        tasks.unmerge_author.delay(reader_id=follower_id, author_id=followee_id)
    if (values[1] > settings.FEED_CELEBRITY_THRESHOLD) != is_celebrity(followee_id):
        tasks.sync_celebrity.delay(author_id=followee_id)


def _unfollow_rows(follower: User, followee: User) -> None:
    if Follow.objects.filter(follower=follower, followee=followee).delete()[0]:
        follower_id, followee_id = follower.id, followee.id
        transaction.on_commit(lambda: _follow_changed(follower_id, followee_id, -1), robust=True)


def account_follow(*, account: User, target_id) -> User:
    """Follow the target (a repeat changes nothing). Their recent posts join the account's home
    timeline. Raises NotFound for an unknown account, 403 for oneself or a block either way."""
    from feed.selectors import blocked_between

    target = _other(account, target_id)
    if blocked_between(account.id, target.id):
        raise errors.not_allowed()
    with transaction.atomic():
        _, created = Follow.objects.get_or_create(follower=account, followee=target)
        if created:
            follower_id, followee_id = account.id, target.id
            transaction.on_commit(lambda: _follow_changed(follower_id, followee_id, 1), robust=True)
            notify(recipient_id=target.id, from_account_id=account.id, type=Notification.Type.FOLLOW)
    return target


def account_unfollow(*, account: User, target_id) -> User:
    """Stop following; the target's posts leave the account's home timeline."""
    target = _other(account, target_id)
    with transaction.atomic():
        _unfollow_rows(account, target)
    return target


def account_block(*, account: User, target_id) -> User:
    """Block the target: follows both ways end and each side's posts leave the other's timeline;
    reads hide the target's posts and reblogs of them from the account."""
    target = _other(account, target_id)
    with transaction.atomic():
        _, created = Block.objects.get_or_create(account=account, target=target)
        if created:
            viewers_forget_on_commit([account.id, target.id])  # a block hides each from the other
        _unfollow_rows(account, target)
        _unfollow_rows(target, account)
    return target


def account_unblock(*, account: User, target_id) -> User:
    target = _other(account, target_id)
    with transaction.atomic():
        if Block.objects.filter(account=account, target=target).delete()[0]:
            viewers_forget_on_commit([account.id, target.id])
    return target


def account_mute(*, account: User, target_id) -> User:
    """Hide the target's posts and reblogs from the account's home timeline (follows stay)."""
    target = _other(account, target_id)
    with transaction.atomic():
        _, created = Mute.objects.get_or_create(account=account, target=target)
        if created:
            viewers_forget_on_commit([account.id])
    return target


def account_unmute(*, account: User, target_id) -> User:
    target = _other(account, target_id)
    with transaction.atomic():
        if Mute.objects.filter(account=account, target=target).delete()[0]:
            viewers_forget_on_commit([account.id])
    return target
