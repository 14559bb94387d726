"""Snowflake ids and base62: properties, concurrency, clock trouble, worker leases."""

import multiprocessing
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import base62, snowflake
from core.snowflake import EPOCH_MS, MAX_SEQUENCE, MAX_WORKER, SnowflakeGenerator, WorkerLease, parse
from core.store import snowflake_worker_key

MAX_ID = (1 << 63) - 1


class FakeClock:
    """A wall clock the test steps by hand; sleeping advances it."""

    def __init__(self, steps: list[int]):
        self.now = EPOCH_MS + 10_000
        self.steps = list(steps)
        self.slept: list[float] = []

    def __call__(self) -> int:
        if self.steps:
            self.now += self.steps.pop(0)
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(1, int(seconds * 1000))


# --- base62 -----------------------------------------------------------------

@given(st.integers(min_value=0, max_value=MAX_ID))
def test_base62_round_trips_every_64_bit_id(number):
    assert base62.decode(base62.encode(number)) == number


@given(st.integers(min_value=0, max_value=MAX_ID), st.integers(min_value=0, max_value=MAX_ID))
def test_base62_codes_order_like_their_numbers_by_length_then_alphabet_position(a, b):
    def key(code):
        return len(code), [base62.ALPHABET.index(char) for char in code]

    assert (key(base62.encode(a)) < key(base62.encode(b))) == (a < b)


@given(st.text(alphabet=base62.ALPHABET, min_size=1, max_size=11))
def test_base62_decode_then_encode_gives_the_canonical_code(code):
    assert base62.encode(base62.decode(code)) == (code.lstrip("0") or "0")


@pytest.mark.parametrize("bad", ["", "abc-def", "héllo", " 1"])
def test_base62_rejects_text_outside_the_alphabet(bad):
    with pytest.raises(ValueError):
        base62.decode(bad)


def test_base62_rejects_negative_numbers():
    with pytest.raises(ValueError):
        base62.encode(-1)


def test_base62_alphabet_is_digits_lower_upper():
    assert base62.encode(61) == "Z"
    assert base62.encode(62) == "10"
    assert base62.decode("a") == 10


# --- generator --------------------------------------------------------------

@given(st.integers(min_value=0, max_value=MAX_WORKER), st.lists(st.integers(min_value=-50, max_value=5), max_size=60))
@settings(max_examples=200)
def test_ids_strictly_increase_whatever_the_clock_does(worker_id, steps):
    clock = FakeClock(steps)
    generator = SnowflakeGenerator(worker_id, clock=clock, sleep=clock.sleep)

    ids = [generator.next_id() for _ in range(len(steps) + 5)]

    assert ids == sorted(set(ids))
    assert all(parse(i).worker_id == worker_id for i in ids)


def test_id_fields_round_trip_through_parse():
    clock = FakeClock([])
    generator = SnowflakeGenerator(37, clock=clock, sleep=clock.sleep)

    first, second = generator.next_id(), generator.next_id()

    assert parse(first) == snowflake.SnowflakeParts(timestamp_ms=clock.now, worker_id=37, sequence=0)
    assert parse(second).sequence == 1
    assert first.bit_length() <= 63


def test_clock_stepping_back_waits_for_the_last_timestamp_instead_of_reusing_it():
    clock = FakeClock([0, -30])  # second reading is 30 ms in the past
    generator = SnowflakeGenerator(1, clock=clock, sleep=clock.sleep)

    before = generator.next_id()
    after = generator.next_id()

    assert clock.slept, "the generator must wait for the clock to catch up"
    assert parse(after).timestamp_ms >= parse(before).timestamp_ms
    assert after > before


def test_an_exhausted_sequence_waits_for_the_next_millisecond():
    clock = FakeClock([])  # frozen unless the generator sleeps
    generator = SnowflakeGenerator(2, clock=clock, sleep=clock.sleep)

    ids = [generator.next_id() for _ in range(MAX_SEQUENCE + 2)]

    assert len(set(ids)) == len(ids)
    assert parse(ids[-1]).timestamp_ms == parse(ids[0]).timestamp_ms + 1
    assert parse(ids[-1]).sequence == 0


def test_switching_to_a_lower_worker_id_never_sorts_before_issued_ids():
    clock = FakeClock([])
    generator = SnowflakeGenerator(900, clock=clock, sleep=clock.sleep)
    before = generator.next_id()

    generator.set_worker_id(3)
    after = generator.next_id()

    assert after > before
    assert parse(after).worker_id == 3


def test_ids_are_unique_across_threads_sharing_a_generator():
    generator = SnowflakeGenerator(5)
    results: list[list[int]] = [[] for _ in range(8)]

    def work(slot):
        results[slot] = [generator.next_id() for _ in range(3000)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [i for chunk in results for i in chunk]
    assert len(set(every)) == len(every) == 24_000
    assert all(chunk == sorted(chunk) for chunk in results)


def test_processes_without_worker_id_lease_distinct_ids_and_never_collide():
    context = multiprocessing.get_context("spawn")
    with context.Pool(3, maxtasksperchild=1) as pool:
        # A worker that dies on start-up would make map() wait forever: bound it.
        batches = pool.map_async(_ids_from_fresh_process, [2000] * 3).get(timeout=120)

    worker_ids = [{parse(i).worker_id for i in batch} for batch in batches]
    assert all(len(ids) == 1 for ids in worker_ids)
    assert len(set().union(*worker_ids)) == 3
    every = [i for batch in batches for i in batch]
    assert len(set(every)) == len(every)


def test_a_forked_child_leases_its_own_worker_id(settings):
    import os

    settings.WORKER_ID = None
    snowflake.next_id()  # the parent's generator exists before the fork, as in a Celery prefork parent
    parent_worker = parse(snowflake.next_id()).worker_id
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(writer, str(parse(snowflake.next_id()).worker_id).encode())
        finally:
            os._exit(0)
    os.close(writer)
    child_worker = int(os.read(reader, 32))
    os.waitpid(pid, 0)
    os.close(reader)
    assert child_worker != parent_worker
    assert parse(snowflake.next_id()).worker_id == parent_worker  # the parent keeps its own


def _ids_from_fresh_process(count: int) -> list[int]:
    from tests.core._snowflake_process import ids_from_this_process

    return ids_from_this_process(count)


# --- worker-id leases (real Redis) -------------------------------------------

def test_two_leases_never_share_a_worker_id(clean_redis):
    first = WorkerLease(clean_redis, snowflake_worker_key)
    second = WorkerLease(clean_redis, snowflake_worker_key)

    assert first.claim(keep_alive=False) != second.claim(keep_alive=False)


def test_concurrent_claims_all_get_different_ids(clean_redis):
    leases = [WorkerLease(clean_redis, snowflake_worker_key) for _ in range(16)]
    barrier = threading.Barrier(len(leases))

    def claim(lease):
        barrier.wait()
        lease.claim(keep_alive=False)

    threads = [threading.Thread(target=claim, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({lease.worker_id for lease in leases}) == 16


def test_a_released_lease_frees_its_id_but_never_anothers(clean_redis):
    lease = WorkerLease(clean_redis, snowflake_worker_key)
    worker_id = lease.claim(keep_alive=False)
    clean_redis.set(snowflake_worker_key(worker_id + 1), "someone-else")
    stranger = WorkerLease(clean_redis, snowflake_worker_key)
    stranger.worker_id = worker_id + 1

    lease.release()
    stranger.release()

    assert clean_redis.get(snowflake_worker_key(worker_id)) is None
    assert clean_redis.get(snowflake_worker_key(worker_id + 1)) == b"someone-else"


def test_renew_keeps_a_held_lease_and_refuses_a_lost_one(clean_redis):
    lease = WorkerLease(clean_redis, snowflake_worker_key)
    worker_id = lease.claim(keep_alive=False)
    assert lease.renew() is True
    assert clean_redis.ttl(snowflake_worker_key(worker_id)) > 0

    clean_redis.set(snowflake_worker_key(worker_id), "someone-else")

    assert lease.renew() is False
    assert clean_redis.get(snowflake_worker_key(worker_id)) == b"someone-else"


def test_a_lease_lost_to_a_redis_restart_takes_its_id_back(clean_redis):
    lease = WorkerLease(clean_redis, snowflake_worker_key)
    worker_id = lease.claim(keep_alive=False)
    clean_redis.delete(snowflake_worker_key(worker_id))

    assert lease.keep() == worker_id
    assert lease.renew() is True


def test_a_lease_taken_by_another_process_moves_to_a_free_id(clean_redis):
    changes = []
    lease = WorkerLease(clean_redis, snowflake_worker_key, on_change=changes.append)
    worker_id = lease.claim(keep_alive=False)
    clean_redis.set(snowflake_worker_key(worker_id), "someone-else")

    new_id = lease.keep()

    assert new_id != worker_id
    assert changes == [new_id]
    assert lease.renew() is True


class SteppedMonotonic:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _leased_generator(client, clock: SteppedMonotonic) -> SnowflakeGenerator:
    lease = WorkerLease(client, snowflake_worker_key, monotonic=clock)
    generator = SnowflakeGenerator(lease.claim(keep_alive=False), lease=lease)
    lease.on_change = generator.set_worker_id
    return generator


def test_a_lease_that_ran_out_unrenewed_is_never_used_once_another_process_holds_its_id(clean_redis):
    clock = SteppedMonotonic()
    generator = _leased_generator(clean_redis, clock)
    first = generator.worker_id
    assert parse(generator.next_id()).worker_id == first
    # Renewals failed for a whole lease (Redis was unreachable): the key expired and another
    # process claimed the id. The next id must not be made with it.
    clean_redis.set(snowflake_worker_key(first), "someone-else", ex=60)
    clock.now += snowflake.LEASE_SECONDS

    moved = parse(generator.next_id()).worker_id

    assert moved != first
    assert clean_redis.get(snowflake_worker_key(first)) == b"someone-else"
    assert clean_redis.get(snowflake_worker_key(moved)) is not None


def test_no_id_is_made_while_an_expired_lease_cannot_be_confirmed(clean_redis):
    import redis

    clock = SteppedMonotonic()
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    lease = WorkerLease(unreachable, snowflake_worker_key, monotonic=clock)
    lease.worker_id = 7  # held once; the background renewals have failed since
    generator = SnowflakeGenerator(7, lease=lease)
    with pytest.raises(redis.ConnectionError):
        generator.next_id()


def test_a_confirmed_lease_makes_ids_without_asking_redis_each_time(clean_redis):
    clock = SteppedMonotonic()
    generator = _leased_generator(clean_redis, clock)
    clean_redis.set(snowflake_worker_key(generator.worker_id), "someone-else")  # unseen until the next renewal
    clock.now += snowflake.LEASE_SECONDS - snowflake.LEASE_MARGIN_SECONDS - 1
    assert parse(generator.next_id()).worker_id == generator.worker_id
