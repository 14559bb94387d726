"""Short codes: a counter handed out in blocks, mapped through a keyed permutation of the code space.

Counter values are unique (Redis hands each process its own block with one INCRBY), and the
permutation is a bijection, so distinct counters give distinct codes without any lookup; the
keyed Feistel network makes neighbouring counters look unrelated, so codes cannot be enumerated.
The first ``CODE_SPACE_SHARE`` of the 7-character space is used, then 8 characters, and so on.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from functools import lru_cache

from core import base62
from core.store import SHORT_CODE_SEQUENCE_KEY

SHORTEST_CODE = 7
LONGEST_CODE = 12
# The share of each length's space handed out before codes grow a character: custom aliases of
# that length live in the same space, so it is never run to the last value.
CODE_SPACE_SHARE = 0.9
FEISTEL_ROUNDS = 6


class FeistelPermutation:
    """A keyed bijection of ``range(domain)``: a balanced Feistel network on the smallest even
    number of bits covering the domain, with cycle-walking back into it."""

    def __init__(self, domain: int, key: bytes, rounds: int = FEISTEL_ROUNDS):
        if domain < 2:
            raise ValueError("the domain needs at least two values")
        bits = max(2, (domain - 1).bit_length())
        bits += bits % 2
        self.domain = domain
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        self.key = hashlib.blake2b(key, digest_size=32).digest()
        self.rounds = rounds

    def _round(self, index: int, value: int) -> int:
        digest = hashlib.blake2b(bytes((index,)) + value.to_bytes(8, "big"), key=self.key, digest_size=8).digest()
        return int.from_bytes(digest, "big") & self.mask

    def _forward(self, value: int) -> int:
        left, right = value >> self.half, value & self.mask
        for index in range(self.rounds):
            left, right = right, left ^ self._round(index, right)
        return (left << self.half) | right

    def _backward(self, value: int) -> int:
        left, right = value >> self.half, value & self.mask
        for index in reversed(range(self.rounds)):
            left, right = right ^ self._round(index, left), left
        return (left << self.half) | right

    def permute(self, value: int) -> int:
        if not 0 <= value < self.domain:
            raise ValueError(f"{value} is outside the domain [0, {self.domain})")
        value = self._forward(value)
        while value >= self.domain:  # cycle-walking: the cycle through a domain value returns to the domain
            value = self._forward(value)
        return value

    def invert(self, value: int) -> int:
        if not 0 <= value < self.domain:
            raise ValueError(f"{value} is outside the domain [0, {self.domain})")
        value = self._backward(value)
        while value >= self.domain:
            value = self._backward(value)
        return value


def length_capacity(length: int) -> int:
    """How many counter values codes of ``length`` characters take before codes grow."""
    return int(62**length * CODE_SPACE_SHARE)


def _code_key() -> bytes:
    from django.conf import settings

    return hmac.new(settings.SECRET_KEY.encode(), b"short codes", hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _permutation(length: int, key: bytes) -> FeistelPermutation:
    return FeistelPermutation(62**length, hmac.new(key, str(length).encode(), hashlib.sha256).digest())


def code_for(sequence: int, *, key: bytes | None = None) -> str:
    """The short code of counter value ``sequence``: 7 characters, 8 past the 7-character share, ..."""
    if sequence < 0:
        raise ValueError("counter values are non-negative")
    key = _code_key() if key is None else key
    offset = sequence
    for length in range(SHORTEST_CODE, LONGEST_CODE + 1):
        capacity = length_capacity(length)
        if offset < capacity:
            return base62.encode_padded(_permutation(length, key).permute(offset), length)
        offset -= capacity
    raise ValueError("the code space is exhausted")


def sequence_of(code: str, *, key: bytes | None = None) -> int | None:
    """The counter value behind a generated code, or None when ``code`` cannot be one."""
    key = _code_key() if key is None else key
    if not SHORTEST_CODE <= len(code) <= LONGEST_CODE:
        return None
    try:
        offset = _permutation(len(code), key).invert(base62.decode(code))
    except ValueError:
        return None
    if offset >= length_capacity(len(code)):
        return None
    return offset + sum(length_capacity(length) for length in range(SHORTEST_CODE, len(code)))


# KEYS[1] the counter; ARGV[1] block size. -1 when the counter is missing (Redis lost it): the caller
# seeds it from the database before taking a block, so a value is never handed out twice.
_TAKE_BLOCK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""
# KEYS[1] the counter; ARGV[1] a floor it must not be below.
_RAISE_FLOOR = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""


class SequenceAllocator:
    """Counter values for this process, taken from Redis ``block_size`` at a time (thread-safe).

    ``floor`` returns the lowest value the database has not used; it seeds a missing counter and
    lifts one that fell behind (a Redis restored from an older snapshot) via ``raise_floor``.
    """

    def __init__(self, *, floor: Callable[[], int], block_size: int = 1000, client_factory=None):
        self.floor = floor
        self.block_size = block_size
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._next = self._end = 0
        self._pid = os.getpid()

    def _client(self):
        if self._client_factory is not None:
            return self._client_factory()
        from core.redis import get_redis

        return get_redis()

    def next(self) -> int:
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not reuse its parent's block
                self._pid, self._next, self._end = os.getpid(), 0, 0
            if self._next >= self._end:
                self._take_block()
            value = self._next
            self._next += 1
            return value

    def _take_block(self) -> None:
        client = self._client()
        for _attempt in range(3):
            end = int(client.eval(_TAKE_BLOCK, 1, SHORT_CODE_SEQUENCE_KEY, self.block_size))
            if end >= 0:
                self._next, self._end = end - self.block_size, end
                return
            client.set(SHORT_CODE_SEQUENCE_KEY, self.floor(), nx=True)
        raise RuntimeError("could not take a block of short-code counter values")

    def raise_floor(self) -> None:
        """After a generated code turned out taken: move the shared counter past every stored value
        and drop this process's block, so the next values are fresh."""
        self._client().eval(_RAISE_FLOOR, 1, SHORT_CODE_SEQUENCE_KEY, self.floor())
        self.forget_block()

    def forget_block(self) -> None:
        """Drop the rest of this process's block; the next value comes from a new one."""
        with self._lock:
            self._next = self._end = 0
