"""Snowflake IDs: 41-bit milliseconds since EPOCH_MS | 10-bit worker | 12-bit sequence.

The worker id comes from ``settings.WORKER_ID`` or is claimed atomically in Redis
(``SET NX`` with a lease renewed in the background), so two live processes never
share one. A generator bound to a lease issues ids only while the lease is known to be
held: past its last confirmed expiry (renewals failed, say while Redis was unreachable) the
next id first renews or re-claims it in Redis, and fails rather than risk an id another
process may now hold. Within a process ids strictly increase, even when the wall clock steps
back: the generator waits for the clock to pass the last timestamp it used.
"""

import atexit
import os
import secrets
import threading
import time
from dataclasses import dataclass

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
LEASE_SECONDS = 60
# A lease is trusted for this much less than its TTL: the TTL started in Redis a little after
# the clock read before the command, and a slow round trip must not stretch it.
LEASE_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class SnowflakeParts:
    timestamp_ms: int
    worker_id: int
    sequence: int


def timestamp_ms(snowflake: int) -> int:
    """The epoch milliseconds a Snowflake was made at (``parse(...).timestamp_ms``, without the rest)."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


def parse(snowflake: int) -> SnowflakeParts:
    return SnowflakeParts(
        timestamp_ms=timestamp_ms(snowflake),
        worker_id=(snowflake >> SEQUENCE_BITS) & MAX_WORKER,
        sequence=snowflake & MAX_SEQUENCE,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SnowflakeGenerator:
    def __init__(self, worker_id: int, clock=_now_ms, sleep=time.sleep, lease: "WorkerLease | None" = None):
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER}")
        self.worker_id = worker_id
        self.lease = lease
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def set_worker_id(self, worker_id: int) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER}")
        with self._lock:
            self.worker_id = worker_id
            # A lower worker id in the same millisecond would sort before ids
            # already issued: treat the millisecond as used up.
            self._sequence = MAX_SEQUENCE

    def next_id(self) -> int:
        if self.lease is not None:
            self.lease.ensure_held()  # may move this generator to another id (on_change)
        with self._lock:
            now = self._clock()
            if now < self._last_ms:  # the clock stepped back: wait, never reuse
                while now < self._last_ms:
                    self._sleep((self._last_ms - now) / 1000)
                    now = self._clock()
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:  # sequence exhausted in this millisecond
                    while now <= self._last_ms:
                        self._sleep(0.0001)
                        now = self._clock()
            else:
                self._sequence = 0
            self._last_ms = now
            return ((now - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)) | (
                self.worker_id << SEQUENCE_BITS
            ) | self._sequence


class WorkerLease:
    """Claims a free worker id in Redis and keeps it while the process lives.

    ``SET NX`` with an expiry decides races between processes; renewal is a
    compare-and-expire, so a process never extends a lease another one now holds.
    If the lease was lost and another process took the id meanwhile, the holder
    moves to a free id (``on_change`` tells the generator) rather than share one.
    """

    def __init__(self, redis_client, key_for, on_change=None, monotonic=time.monotonic):
        self._redis = redis_client
        self._key_for = key_for
        self._token = secrets.token_hex(8)
        self._monotonic = monotonic
        self._held_until = float("-inf")
        self._keep_lock = threading.Lock()
        self.on_change = on_change
        self.worker_id: int | None = None

    def _confirmed(self, since: float) -> None:
        self._held_until = since + LEASE_SECONDS - LEASE_MARGIN_SECONDS

    def ensure_held(self) -> int:
        """The worker id, once the lease is known to be ours; renews (or moves) it in Redis when
        its last confirmation has run out. Raises if Redis cannot confirm it: no id is safe then."""
        if self._monotonic() < self._held_until:
            return self.worker_id
        with self._keep_lock:
            if self._monotonic() < self._held_until:
                return self.worker_id
            return self.keep()

    def claim(self, *, keep_alive: bool = True) -> int:
        """Take the first free id; with ``keep_alive`` a daemon thread renews it."""
        started = self._monotonic()
        self.worker_id = self._claim_free()
        self._confirmed(started)
        if keep_alive:
            threading.Thread(target=self._keep_forever, daemon=True, name="snowflake-lease").start()
            atexit.register(self.release)
        return self.worker_id

    def release(self) -> None:
        """Give the id back at a clean exit, so it is free at once rather than after the lease."""
        script = (
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('DEL', KEYS[1]) else return 0 end"
        )
        try:
            self._redis.eval(script, 1, self._key_for(self.worker_id), self._token)
        except Exception:  # noqa: BLE001, S110 - Redis gone at exit: the lease expires on its own
            pass

    def _claim_free(self) -> int:
        start = (os.getpid() * 7) % (MAX_WORKER + 1)
        for offset in range(MAX_WORKER + 1):
            candidate = (start + offset) % (MAX_WORKER + 1)
            if self._redis.set(self._key_for(candidate), self._token, nx=True, ex=LEASE_SECONDS):
                return candidate
        raise RuntimeError("no free snowflake worker id")

    def renew(self) -> bool:
        """Extend the lease if this process still holds it (Lua: compare-and-expire)."""
        script = (
            "if redis.call('GET', KEYS[1]) == ARGV[1] then "
            "return redis.call('EXPIRE', KEYS[1], ARGV[2]) else return 0 end"
        )
        return bool(self._redis.eval(script, 1, self._key_for(self.worker_id), self._token, LEASE_SECONDS))

    def keep(self) -> int:
        """Renew, or take the same id back if it is free, or move to another free id."""
        started = self._monotonic()
        if self.renew() or self._redis.set(self._key_for(self.worker_id), self._token, nx=True, ex=LEASE_SECONDS):
            self._confirmed(started)
            return self.worker_id
        self.worker_id = self._claim_free()
        self._confirmed(started)
        if self.on_change is not None:
            self.on_change(self.worker_id)
        return self.worker_id

    def _keep_forever(self) -> None:
        while True:
            time.sleep(LEASE_SECONDS / 3)
            try:
                with self._keep_lock:
                    self.keep()
            except Exception:  # noqa: BLE001, S110 - Redis unreachable: retried on the next tick
                pass


_generator: SnowflakeGenerator | None = None
_generator_lock = threading.Lock()


def _forget_generator() -> None:
    """In a forked child: the parent's generator (and its worker id) is not this process's."""
    global _generator, _generator_lock
    _generator, _generator_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_generator)


def _build_generator() -> SnowflakeGenerator:
    from django.conf import settings

    if settings.WORKER_ID not in (None, ""):
        return SnowflakeGenerator(int(settings.WORKER_ID))
    from core.redis import get_redis
    from core.store import snowflake_worker_key

    lease = WorkerLease(get_redis(), snowflake_worker_key)
    generator = SnowflakeGenerator(lease.claim(), lease=lease)
    lease.on_change = generator.set_worker_id
    return generator


def next_id() -> int:
    """A new Snowflake id from this process's generator (claimed lazily, once per process)."""
    generator = _generator
    if generator is None:
        generator = _process_generator()
    return generator.next_id()


def _process_generator() -> SnowflakeGenerator:
    global _generator
    with _generator_lock:
        if _generator is None:
            _generator = _build_generator()
        return _generator
