"""What the streaming API announces, called by the fan-out and the services after commit.

``update`` and ``delete`` reach the ``user`` stream of the author and of the followers the
fan-out walks (celebrities' followers too: their timelines are pulled, their sockets are still
pushed), and the ``public`` stream for public posts. A follower who mutes or blocks the author
(or the reblogged author) is left out. The status is rendered once, without a viewer's flags.
"""

from collections.abc import Sequence

from django.db.models import Q

from core.publish import publish_now
from feed import events, store
from feed.models import Block, Mute, Status


def _hiding(reader_ids: Sequence[int], author_ids: set[int]) -> set[int]:
    """The readers among ``reader_ids`` who mute or block, or are blocked by, one of the authors."""
    if not reader_ids:
        return set()
    muting = Mute.objects.filter(account_id__in=reader_ids, target_id__in=author_ids).values_list("account_id")
    blocking = Block.objects.filter(
        Q(account_id__in=reader_ids, target_id__in=author_ids) | Q(account_id__in=author_ids,
                                                                  target_id__in=reader_ids)
    ).values_list("account_id", "target_id")
    hidden = {row[0] for row in muting}
    for account_id, target_id in blocking:
        hidden.add(account_id if account_id in reader_ids else target_id)
    return hidden


def status_entity(status_id: int) -> dict | None:
    from feed import presenters

    rendered = presenters.render_statuses([status_id], None)
    return rendered[0] if rendered else None


def announce_update(*, entity: dict, reader_ids: Sequence[int], author_ids: set[int], event: str = "update") -> None:
    """Send ``update`` (or ``status.update``) of a rendered status to the readers' user streams
    (only readers with an open socket: a fan-out batch of offline readers costs one Redis read)."""
    reader_ids = store.listening(list(reader_ids))
    hidden = _hiding(reader_ids, author_ids)
    groups = [events.user_group(r) for r in reader_ids if r not in hidden]
    if groups:
        publish_now(groups, events.message(event, entity, "user"), app="feed")


def announce_public(*, entity: dict, status: Status | None = None) -> None:
    publish_now([events.PUBLIC_GROUP], events.message("update", entity, "public"), app="feed")


def announce_delete(*, status_ids: Sequence[int], reader_ids: Sequence[int], public: bool = True) -> None:
    groups = [events.user_group(r) for r in store.listening(list(reader_ids))]
    for status_id in status_ids:
        if groups:
            publish_now(groups, events.status_delete(status_id, "user"), app="feed")
        if public:
            publish_now([events.PUBLIC_GROUP], events.status_delete(status_id, "public"), app="feed")
