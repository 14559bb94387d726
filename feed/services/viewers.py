"""Each reader's state in Redis (``feed.store.viewer_state``): the accounts hidden from them, what
they favourited and reblogged, kept in step with the database so the hot home read needs no query.

The services that write favourites, reblogs, blocks and mutes record the change after their commit
(``viewer_changes_on_commit``, one delta per row they created or removed); a read that finds a
reader's state missing rebuilds it from the database (``viewer_state_rebuild``). A rebuild that
read the database before a change landed writes nothing, and the next read tries again.
"""

from collections import Counter

from django.db import transaction

from feed.models import Block, Favourite, Mute, Status
from feed.store import viewer_state
from feed.store.viewer_state import Change, favourite_field, hidden_field, reblog_field


def viewer_changes_on_commit(changes: list[Change]) -> None:
    """Apply (reader id, field, delta) changes to readers' state once the transaction commits."""
    if changes:
        transaction.on_commit(lambda: viewer_state.viewer_changes(changes), robust=True)


def favourite_changes(account_id: int, status_id: int, delta: int) -> list[Change]:
    return [(account_id, favourite_field(status_id), delta)]


def reblog_changes(account_id: int, original_id: int, delta: int) -> list[Change]:
    return [(account_id, reblog_field(original_id), delta)]


def block_changes(account_id: int, target_id: int, delta: int) -> list[Change]:
    """A block hides each account from the other."""
    return [(account_id, hidden_field(target_id), delta), (target_id, hidden_field(account_id), delta)]


def mute_changes(account_id: int, target_id: int, delta: int) -> list[Change]:
    return [(account_id, hidden_field(target_id), delta)]


def viewer_state_rebuild(*, reader_id: int) -> bool:
    """Fill the reader's state from the database; False when a change came in meanwhile (nothing
    written: the next read rebuilds)."""
    generation = viewer_state.viewer_generation(reader_id)
    hidden: Counter[int] = Counter()
    hidden.update(Block.objects.filter(account_id=reader_id).values_list("target_id", flat=True))
    hidden.update(Block.objects.filter(target_id=reader_id).values_list("account_id", flat=True))
    hidden.update(Mute.objects.filter(account_id=reader_id).values_list("target_id", flat=True))
    favourites = list(Favourite.objects.filter(account_id=reader_id).values_list("status_id", flat=True))
    reblogs = list(Status.objects.filter(account_id=reader_id, reblog_of__isnull=False, deleted_at__isnull=True)
                   .values_list("reblog_of_id", flat=True))
    return viewer_state.viewer_fill(reader_id, generation, hidden=dict(hidden), favourites=favourites,
                                    reblogs=reblogs)
