"""The hot path's pipelined Redis connection: ordering, errors, time bounds, URL options, reconnects."""

import asyncio
import socket
import ssl
import time

import pytest
from redis.connection import parse_url

from core import hotredis


def _test_redis(settings) -> dict:
    """Where the test Redis listens: a unix socket (the embedded default) or host and port."""
    return parse_url(settings.REDIS_URL)


def _url_with_credentials(settings, user: str, password: str) -> str:
    where = _test_redis(settings)
    if "path" in where:
        return f"unix://{user}:{password}@{where['path']}?db={where['db']}"
    return f"redis://{user}:{password}@{where['host']}:{where['port']}/{where['db']}"


async def _open_test_redis(settings):
    where = _test_redis(settings)
    if "path" in where:
        return await asyncio.open_unix_connection(where["path"])
    return await asyncio.open_connection(where["host"], where["port"])


async def _pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


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


async def test_eval_loads_an_unknown_script_then_runs_it_by_sha(clean_redis):
    conn = hotredis.connection()
    script = "return ARGV[1] .. KEYS[1]"
    clean_redis.script_flush()
    assert await conn.eval(script, 1, "k", "v") == b"vk"
    assert clean_redis.script_exists(hotredis._script_sha(script)) == [True]
    assert await conn.eval(script, 1, "x", "y") == b"yx"


async def test_a_lost_connection_fails_waiters_and_the_next_command_reconnects():
    conn = hotredis.connection()
    assert await conn.execute("PING") == b"PONG"
    conn._writer.transport.abort()
    await asyncio.sleep(0.05)
    assert await conn.execute("PING") == b"PONG"


async def test_a_connection_killed_by_the_server_is_reopened(clean_redis):
    conn = hotredis.connection()
    first_id = await conn.execute("CLIENT", "ID")
    assert clean_redis.client_kill_filter(_id=first_id) == 1
    await asyncio.sleep(0.05)
    assert await conn.execute("PING") == b"PONG"
    assert await conn.execute("CLIENT", "ID") != first_id


async def test_it_uses_the_configured_database(clean_redis):
    conn = hotredis.connection()
    await conn.execute("SET", "core:test:db", "here")
    assert clean_redis.get("core:test:db") == b"here"


def test_a_rediss_url_means_tls_auth_and_the_database():
    params = hotredis.ConnectionParams.from_url("rediss://user:pass@host:6380/3")
    assert (params.host, params.port, params.path) == ("host", 6380, None)
    assert (params.username, params.password, params.db, params.tls) == ("user", "pass", 3, True)
    context = params.ssl_context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert params.setup_commands() == [("AUTH", "user", "pass"), ("SELECT", 3)]


def test_a_plain_url_has_no_tls_and_unverified_tls_can_be_asked_for():
    plain = hotredis.ConnectionParams.from_url("redis://:pw@cache.internal")
    assert plain.ssl_context() is None
    assert plain.setup_commands() == [("AUTH", "pw")]
    loose = hotredis.ConnectionParams.from_url("rediss://cache.internal/0?ssl_cert_reqs=none")
    assert loose.ssl_context().verify_mode == ssl.CERT_NONE
    assert loose.setup_commands() == []


async def test_auth_and_database_from_the_url_against_the_real_server(clean_redis, settings):
    clean_redis.acl_setuser("hot-test-user", enabled=True, passwords=["+s3cret-pass"], keys=["*"],
                            commands=["+@all"])
    try:
        conn = hotredis.PipelinedConnection(_url_with_credentials(settings, "hot-test-user", "s3cret-pass"))
        assert await conn.execute("ACL", "WHOAMI") == b"hot-test-user"
        await conn.execute("SET", "core:test:auth", "1")
        assert clean_redis.get("core:test:auth") == b"1"
        conn.close()
        wrong = hotredis.PipelinedConnection(_url_with_credentials(settings, "hot-test-user", "wrong"))
        with pytest.raises(hotredis.RespError):
            await wrong.execute("PING")
        wrong.close()
    finally:
        clean_redis.acl_deluser("hot-test-user")


@pytest.fixture
async def silent_server():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    connections = []

    async def accept(reader, writer):
        connections.append(writer)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in connections:
        writer.close()
    server.close()


async def test_a_server_that_never_answers_times_out_and_later_commands_fail_fast(silent_server):
    conn = hotredis.PipelinedConnection(f"redis://127.0.0.1:{silent_server}/0")
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await conn.execute("PING")
    assert time.monotonic() - started < hotredis.READ_TIMEOUT + 0.3
    started = time.monotonic()
    with pytest.raises(ConnectionError):
        await conn.execute("PING")
    assert time.monotonic() - started < 0.05


async def test_an_answer_waiting_while_the_event_loop_was_held_up_is_not_a_timeout(clean_redis, settings):
    conn = hotredis.PipelinedConnection(settings.REDIS_URL)
    await conn.execute("PING")
    clean_redis.set("held-up", "there")
    pending = asyncio.ensure_future(conn.execute("GET", "held-up"))
    while not conn._pending or conn._flush_scheduled:  # until the command is written (nothing read yet)
        await asyncio.sleep(0)
    time.sleep(hotredis.READ_TIMEOUT + 0.2)  # noqa: ASYNC251 - the loop held up past the deadline, on purpose
    assert await pending == b"there"
    assert await conn.execute("PING") == b"PONG"  # the connection was kept
    conn.close()


async def test_an_unreachable_server_is_retried_after_a_pause(settings, monkeypatch):
    monkeypatch.setattr(hotredis, "RETRY_AFTER", 0.2)
    with socket.socket() as probe:  # a port nobody listens on, yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = hotredis.PipelinedConnection(f"redis://127.0.0.1:{port}/{_test_redis(settings)['db']}")
    with pytest.raises(ConnectionError):
        await conn.execute("PING")

    async def forward(client_reader, client_writer):  # Redis is back, on that port
        redis_reader, redis_writer = await _open_test_redis(settings)
        pipes.extend([asyncio.ensure_future(_pipe(client_reader, redis_writer)),
                      asyncio.ensure_future(_pipe(redis_reader, client_writer))])

    pipes: list = []
    server = await asyncio.start_server(forward, "127.0.0.1", port)
    try:
        with pytest.raises(ConnectionError):
            await conn.execute("PING")  # within the pause: not even tried
        await asyncio.sleep(0.25)
        assert await conn.execute("PING") == b"PONG"
        conn.close()
    finally:
        server.close()
        for task in pipes:
            task.cancel()


@pytest.fixture
async def tls_redis(settings, tmp_path):
    """The test Redis behind a TLS terminator (a certificate from a test CA for 127.0.0.1)."""
    import trustme

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    pipes = []

    async def terminate(client_reader, client_writer):
        redis_reader, redis_writer = await _open_test_redis(settings)
        pipes.extend([asyncio.ensure_future(_pipe(client_reader, redis_writer)),
                      asyncio.ensure_future(_pipe(redis_reader, client_writer))])

    server = await asyncio.start_server(terminate, "127.0.0.1", 0, ssl=server_context)
    yield server.sockets[0].getsockname()[1], ca_file
    server.close()
    for task in pipes:
        task.cancel()


async def test_rediss_urls_speak_tls_with_auth_and_database(tls_redis, clean_redis, settings):
    port, ca_file = tls_redis
    db = parse_url(settings.REDIS_URL)["db"]
    clean_redis.acl_setuser("hot-tls-user", enabled=True, passwords=["+tls-pass"], keys=["*"], commands=["+@all"])
    try:
        conn = hotredis.PipelinedConnection(f"rediss://hot-tls-user:tls-pass@127.0.0.1:{port}/{db}?ssl_ca_certs={ca_file}")
        assert await conn.execute("ACL", "WHOAMI") == b"hot-tls-user"
        await conn.execute("SET", "core:test:tls", "over tls")
        assert clean_redis.get("core:test:tls") == b"over tls"
        assert conn._writer.get_extra_info("ssl_object") is not None
        conn.close()
    finally:
        clean_redis.acl_deluser("hot-tls-user")


async def test_a_certificate_from_an_unknown_authority_is_refused(tls_redis):
    port, _ = tls_redis
    conn = hotredis.PipelinedConnection(f"rediss://127.0.0.1:{port}/0")  # the system's authorities only
    with pytest.raises(ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        await conn.execute("PING")


@pytest.fixture
async def answers_then_stalls():
    """A TCP server that answers the first command of each connection (+PONG) and then goes silent."""
    connections = []

    async def serve(reader, writer):
        connections.append(writer)
        await reader.readuntil(b"PING\r\n")
        writer.write(b"+PONG\r\n")
        await asyncio.sleep(3600)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in connections:
        writer.close()
    server.close()


async def test_a_command_written_after_an_answered_one_is_still_bounded_by_the_read_timeout(answers_then_stalls):
    conn = hotredis.PipelinedConnection(f"redis://127.0.0.1:{answers_then_stalls}/0", read_timeout=0.3)
    assert await conn.execute("PING") == b"PONG"
    await asyncio.sleep(0.2)  # the first write's deadline is still ahead when the second is written
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(conn.execute("PING"), 2)  # a missed deadline would hang: 2 s is a failure
    assert 0.25 < time.monotonic() - started < 0.3 + 0.3


async def test_a_connection_kept_busy_past_the_read_timeout_is_not_timed_out(clean_redis, settings):
    conn = hotredis.PipelinedConnection(settings.REDIS_URL, read_timeout=0.1)
    deadline = time.monotonic() + 0.5
    answered = 0
    while time.monotonic() < deadline:  # a write every pass, each answered well within 0.1 s
        await asyncio.gather(*(conn.execute("PING") for _ in range(10)))
        answered += 10
    assert answered > 100
    assert await conn.execute("PING") == b"PONG"
    conn.close()


def test_commands_are_packed_alike_by_hiredis_and_by_the_fallback_which_takes_any_value():
    from decimal import Decimal

    command = ("EVALSHA", "a" * 40, 2, b"k\x00", "é", 12345678901234567890, -1, 0.5)
    assert hotredis._encode(command) == hotredis._encode_in_python(command)
    assert hotredis._encode(("SET", "k", Decimal("1.5"))) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n1.5\r\n"
