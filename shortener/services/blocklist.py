"""The admin block list of hosts: its edits (services) and each process's copy of it.

Every process keeps the list in memory and asks Redis for the list's version at most every
``CHECK_INTERVAL`` seconds, and only when a link is being validated; a changed version reloads
the list from the database. Edits go through the services below, which bump the version, so a
new block reaches every process within ``CHECK_INTERVAL`` seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable

import redis
from django.db import IntegrityError, transaction

from core.errors import FieldError
from shortener import store
from shortener.errors import ShortenerErrorCode
from shortener.models import BlockedHost

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 0.5  # seconds; an edit reaches every process within this


def normalise_host(host: str) -> str:
    return (host or "").strip().lower().strip(".")


class BlockList:
    """One process's copy of the block list (``block_list`` below is the process's instance)."""

    def __init__(self):
        self._checked_at = -math.inf
        self._version: int | None = None
        self._hosts: frozenset[str] = frozenset()

    def hosts(self) -> frozenset[str]:
        now = time.monotonic()
        if now - self._checked_at < CHECK_INTERVAL:
            return self._hosts
        try:
            version = store.blocked_hosts_version()
        except redis.RedisError:
            logger.warning("block list version unreadable; reloading the list from the database")
            version = None
        # The version is read before the list: an edit committed in between is seen at the next check.
        if version is None or version != self._version:
            self._hosts = frozenset(normalise_host(h) for h in BlockedHost.objects.values_list("host", flat=True))
        self._version, self._checked_at = version, now
        return self._hosts

    def forget(self) -> None:
        self.__init__()


block_list = BlockList()


def _announce() -> None:
    # Now (other processes reload at once) and after commit (they reload again and see the edit).
    store.blocked_hosts_version_bump()
    transaction.on_commit(store.blocked_hosts_version_bump, robust=True)


def _clean_host(host: str) -> str:
    cleaned = normalise_host(host)
    if not cleaned or any(ch.isspace() or ch in "/:@" for ch in cleaned):
        raise FieldError({"host": "Enter a host name, such as phish.example."})
    return cleaned


def blocked_host_save(*, host: str, reason: str = "", blocked_host: BlockedHost | None = None) -> BlockedHost:
    """Add a host to the block list (or change ``blocked_host``); every process blocks it within a second.

    Raises FieldError naming ``host`` for an empty or malformed host, or one already on the list.
    """
    blocked_host = blocked_host or BlockedHost()
    blocked_host.host, blocked_host.reason = _clean_host(host), reason
    try:
        with transaction.atomic():
            blocked_host.save()
    except IntegrityError:
        raise FieldError({"host": "This host is already blocked."}, code=ShortenerErrorCode.HOST_ALREADY_BLOCKED) from None
    _announce()
    return blocked_host


def blocked_hosts_remove(*, blocked_hosts: Iterable[BlockedHost]) -> int:
    """Take hosts off the block list; returns how many were removed."""
    ids = [blocked_host.pk for blocked_host in blocked_hosts]
    with transaction.atomic():
        removed, _ = BlockedHost.objects.filter(pk__in=ids).delete()
    _announce()
    return removed
