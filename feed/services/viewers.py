"""Each reader's state in Redis (``feed.store.viewer_state``): the accounts hidden from them, what
they favourited and reblogged, so the hot home read needs no query.

The services that write favourites, reblogs, blocks and mutes drop the state of the readers they
change after their commit (``viewers_forget_on_commit``); a home read that finds a reader's state
missing rebuilds it from the database (``viewer_state_rebuild``). A rebuild that read the database
before a change landed writes nothing, and the next read tries again.
"""

from collections import Counter

from django.db import transaction

from feed.models import Block, Favourite, Mute, Status
from feed.store import viewer_state


def viewers_forget_on_commit(reader_ids: list[int]) -> None:
    """Drop the readers' state once the transaction commits (a rolled-back change keeps it)."""
    if reader_ids:
        transaction.on_commit(lambda: viewer_state.viewers_forget(reader_ids), robust=True)


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
