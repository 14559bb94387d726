"""The hot path's pipelined Redis connection: ordering under concurrency, errors, reconnects."""

import asyncio

import pytest

from core import hotredis


async def test_concurrent_commands_get_their_own_replies():
    conn = hotredis.connection()
    await conn.execute("DEL", "core:test:hotredis")
    replies = await asyncio.gather(*(conn.execute("INCR", "core:test:hotredis") for _ in range(200)))
    assert sorted(replies) == list(range(1, 201))
    echoed = await asyncio.gather(*(conn.execute("ECHO", f"m{i}") for i in range(50)))
    assert echoed == [f"m{i}".encode() for i in range(50)]
    await conn.execute("DEL", "core:test:hotredis")


async def test_errors_are_raised_to_their_caller_only():
    conn = hotredis.connection()
    with pytest.raises(hotredis.RespError, match="NOSCRIPT"):
        await conn.execute("EVALSHA", "0" * 40, 0)
    assert await conn.execute("PING") == b"PONG"


async def test_a_lost_connection_fails_waiters_and_the_next_command_reconnects():
    conn = hotredis.connection()
    assert await conn.execute("PING") == b"PONG"
    conn._writer.transport.abort()
    await asyncio.sleep(0.05)
    assert await conn.execute("PING") == b"PONG"


async def test_it_uses_the_configured_database(clean_redis):
    conn = hotredis.connection()
    await conn.execute("SET", "core:test:db", "here")
    assert clean_redis.get("core:test:db") == b"here"
