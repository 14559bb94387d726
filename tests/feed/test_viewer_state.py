"""Each reader's state in Redis (hidden accounts, favourites, reblogs): dropped by the services that
change it, rebuilt from the database by the next read, and never left stale by a racing rebuild."""

import pytest

from core.redis import get_redis
from feed import store
from feed.models import Status
from feed.services import interactions, relationships
from feed.services.viewers import viewer_state_rebuild
from feed.store import viewer_state
from feed.store.viewer_state import favourite_field, reblog_field
from tests.feed.helpers import activate, post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def hidden_field(account_id: int) -> str:
    return f"h:{account_id}"


def _from_the_database(reader_id: int) -> dict[str, int]:
    """What a rebuild from the database makes of the reader's state."""
    get_redis().delete(store.viewer_key(reader_id), store.viewer_hidden_key(reader_id))
    assert viewer_state_rebuild(reader_id=reader_id)
    return viewer_state.viewer_fields(reader_id)


def test_a_home_read_builds_the_readers_state(alice, bob, as_user):
    a = as_user(alice)
    status, _ = Status.objects.get_or_create(account=bob, text="liked before")
    interactions.status_favourite(account=alice, status_id=status.id)
    relationships.account_mute(account=alice, target_id=bob.id)
    assert not viewer_state.viewer_built(alice.id)
    activate(a)
    activate(a)  # the timeline is ready now: the read builds the state the hot path reads
    assert viewer_state.viewer_built(alice.id)
    assert viewer_state.viewer_fields(alice.id) == {favourite_field(status.id): 1, hidden_field(bob.id): 1}


def test_each_change_drops_the_readers_state_and_a_rebuild_has_it_as_the_database_does(alice, bob, carol,
                                                                                       as_user):
    b = as_user(bob)
    first, second = int(post(b, "one")["id"]), int(post(b, "two")["id"])

    def changed(readers, change) -> None:
        for reader in (alice, bob, carol):
            viewer_state_rebuild(reader_id=reader.id)
        change()
        assert [viewer_state.viewer_built(r.id) for r in (alice, bob, carol)] == [r not in readers
                                                                                for r in (alice, bob, carol)]

    changed([alice], lambda: interactions.status_favourite(account=alice, status_id=first))
    changed([alice], lambda: interactions.status_favourite(account=alice, status_id=second))
    changed([], lambda: interactions.status_favourite(account=alice, status_id=second))  # a repeat changes nothing
    changed([alice], lambda: interactions.status_unfavourite(account=alice, status_id=first))
    changed([alice], lambda: interactions.status_reblog(account=alice, status_id=second))
    changed([alice], lambda: interactions.status_reblog(account=alice, status_id=first))
    changed([alice], lambda: interactions.status_unreblog(account=alice, status_id=first))
    changed([alice, carol], lambda: relationships.account_block(account=alice, target_id=carol.id))
    changed([alice, carol], lambda: relationships.account_block(account=carol, target_id=alice.id))
    changed([alice, carol], lambda: relationships.account_unblock(account=alice, target_id=carol.id))
    changed([alice], lambda: relationships.account_mute(account=alice, target_id=bob.id))
    changed([], lambda: relationships.account_mute(account=alice, target_id=bob.id))
    expected = {favourite_field(second): 1, reblog_field(second): 1, hidden_field(carol.id): 1,
                hidden_field(bob.id): 1}
    assert _from_the_database(alice.id) == expected
    assert _from_the_database(bob.id) == {}  # muting bob hides nothing from bob

    changed([alice], lambda: relationships.account_unmute(account=alice, target_id=bob.id))
    changed([alice, carol], lambda: relationships.account_unblock(account=carol, target_id=alice.id))
    changed([alice], lambda: b.delete(f"/api/v1/statuses/{second}"))  # alice's reblog goes with it
    assert _from_the_database(alice.id) == {favourite_field(second): 1}


def test_changes_to_a_reader_without_state_wait_for_the_rebuild(alice, bob):
    status, _ = Status.objects.get_or_create(account=bob, text="x")
    interactions.status_favourite(account=alice, status_id=status.id)
    assert not viewer_state.viewer_built(alice.id)  # nothing written but the change's generation
    assert viewer_state_rebuild(reader_id=alice.id)
    assert viewer_state.viewer_fields(alice.id) == {favourite_field(status.id): 1}


def test_a_rebuild_that_read_the_database_before_a_change_writes_nothing(alice, bob):
    status, _ = Status.objects.get_or_create(account=bob, text="x")
    generation = viewer_state.viewer_generation(alice.id)
    # The rebuild read the database here (no favourite yet); the favourite commits before it writes.
    interactions.status_favourite(account=alice, status_id=status.id)
    assert not viewer_state.viewer_fill(alice.id, generation, hidden={}, favourites=[], reblogs=[])
    assert not viewer_state.viewer_built(alice.id)
    assert viewer_state_rebuild(reader_id=alice.id)
    assert viewer_state.viewer_fields(alice.id) == {favourite_field(status.id): 1}


def test_rebuilds_racing_favourites_and_mutes_leave_the_state_of_the_database(alice, bob, carol):
    statuses = [Status.objects.create(account=bob, text=f"s{i}") for i in range(4)]

    def act(i: int) -> None:
        for round_ in range(3):
            if i % 3 == 0:  # rebuilds, from nothing
                get_redis().delete(store.viewer_key(alice.id), store.viewer_hidden_key(alice.id))
                viewer_state_rebuild(reader_id=alice.id)
            elif i % 3 == 1:
                status = statuses[(i + round_) % len(statuses)]
                interactions.status_favourite(account=alice, status_id=status.id)
                if round_ % 2:
                    interactions.status_unfavourite(account=alice, status_id=status.id)
            else:
                relationships.account_mute(account=alice, target_id=carol.id)
                relationships.account_unmute(account=alice, target_id=carol.id)
                relationships.account_mute(account=alice, target_id=bob.id if i % 2 else carol.id)

    run_concurrently(act, 9)
    if viewer_state.viewer_built(alice.id):
        assert viewer_state.viewer_fields(alice.id) == _from_the_database(alice.id)
    else:  # the last rebuild lost to a change: the next read rebuilds
        assert viewer_state_rebuild(reader_id=alice.id)
