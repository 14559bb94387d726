"""The hot path's Redis client: one pipelined connection per event loop, bounded in time.

redis-py's asyncio client checks a connection out of a pool and back for every command; under
load that bookkeeping costs more CPU than the Redis work itself. Here all coroutines of one event
loop share one connection: each command is written whole, replies arrive in the order the
commands were sent, and a FIFO of futures hands each reply to its caller (plain RESP pipelining).

Every hot handler talks to Redis through ``connection()``. It never hangs a request: connecting
and each reply are bounded (``CONNECT_TIMEOUT``, ``READ_TIMEOUT``); past either the command raises
``TimeoutError`` and the hot handler hands the request to Django. The reply bound costs no timer per
command or per write: each write notes when its last reply is due, and one watchdog per connection
wakes at the earliest such time still outstanding. An answer found late only because the event
loop itself was held up (or one of a connection still answering) gets ``READ_GRACE``. A connection that times out or
cannot be opened is dropped, and for ``RETRY_AFTER`` seconds commands fail at once instead of each
waiting for a dead server; then the next command connects again. A connection the server closes
is reopened by the next command. ``rediss://`` URLs use TLS; user, password and database number
come from the URL, as for redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
import time
import weakref
from dataclasses import dataclass

import hiredis
from django.conf import settings
from redis.connection import SSLConnection, parse_url

CONNECT_TIMEOUT = 0.3  # seconds
READ_TIMEOUT = 0.5  # seconds for one reply; a hot request makes one or two round trips
RETRY_AFTER = 1.0  # seconds commands fail fast after a failed connect or a timeout
# Past READ_TIMEOUT the verdict waits this long, and again while replies keep coming (up to
# READ_GRACE_CHECKS times): an event loop held up past the deadline (a busy machine) finds the
# answer already in the socket, unread, and a connection still answering is not a dead one.
READ_GRACE = 0.1
READ_GRACE_CHECKS = 5


class RespError(Exception):
    """An error reply from Redis (the connection itself is fine)."""


@dataclass(frozen=True)
class ConnectionParams:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # unix socket
    username: str | None = None
    password: str | None = None
    db: int = 0
    tls: bool = False
    tls_verify: bool = True
    tls_ca_certs: str | None = None

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        params = parse_url(url)
        return cls(
            host=params.get("host") or "127.0.0.1",
            port=int(params.get("port") or 6379),
            path=params.get("path"),
            username=params.get("username") or None,
            password=params.get("password") or None,
            db=int(params.get("db") or 0),
            tls=params.get("connection_class") is SSLConnection,
            tls_verify=str(params.get("ssl_cert_reqs", "required")).lower() not in ("none", "optional"),
            tls_ca_certs=params.get("ssl_ca_certs"),
        )

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.tls_ca_certs)
        if not self.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def setup_commands(self) -> list[tuple]:
        commands: list[tuple] = []
        if self.password:
            commands.append(("AUTH", *([self.username] if self.username else []), self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


def _encode_in_python(args: tuple) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        else:
            data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


# hiredis (2.1+) packs a command in C, about twice as fast as the loop above for a batch of redirects;
# it takes str, int, float and bytes, and anything else goes through the loop.
_pack_command = getattr(hiredis, "pack_command", None)


def _encode(args: tuple) -> bytes:
    if _pack_command is not None:
        try:
            return _pack_command(args)
        except TypeError:
            pass
    return _encode_in_python(args)


class PipelinedConnection:
    def __init__(self, url: str, *, connect_timeout: float = CONNECT_TIMEOUT, read_timeout: float = READ_TIMEOUT):
        self.params = ConnectionParams.from_url(url)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: collections.deque[asyncio.Future] = collections.deque()
        self._connecting: asyncio.Lock | None = None
        self._down_until = 0.0
        # Commands of one event-loop pass go out in one write (one syscall here, one read in Redis).
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task] = set()  # the loop holds tasks weakly
        # Reply deadlines of the current connection: commands sent on it so far, and per write the
        # count reached by its last command with the loop time its reply is due. Replies come in
        # order, so a write is answered once sent - len(pending) reaches its count.
        self._sent = 0
        self._deadlines: collections.deque[tuple[int, float]] = collections.deque()
        self._watchdog: asyncio.TimerHandle | None = None
        # While the oldest write is overdue: (grace periods given, replies counted at the last look).
        self._grace: tuple[int, int] | None = None

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return
            if time.monotonic() < self._down_until:
                raise ConnectionError("Redis unreachable a moment ago; not retrying yet")
            params = self.params
            try:
                if params.path:
                    opening = asyncio.open_unix_connection(params.path)
                else:
                    opening = asyncio.open_connection(params.host, params.port, ssl=params.ssl_context())
                reader, writer = await asyncio.wait_for(opening, self.connect_timeout)
            except (OSError, TimeoutError) as exc:
                self._down_until = time.monotonic() + RETRY_AFTER
                raise ConnectionError(f"cannot connect to Redis: {exc!r}") from exc
            self._reader, self._writer = reader, writer
            task = asyncio.get_running_loop().create_task(self._read_replies(reader, writer, self._pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            # Queued before any command of a caller that sees the new writer: they run first.
            try:
                for command in params.setup_commands():
                    await self._send(command)
            except RespError as exc:  # wrong password, no such database: this connection is no use
                self._reset(ConnectionError(f"Redis refused the connection set-up: {exc}"), writer)
                raise

    async def _read_replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            pending: collections.deque[asyncio.Future]) -> None:
        # ``pending`` is this connection's queue: replies still buffered after a reset go to its
        # (already failed) futures, never to callers of the next connection.
        parser = hiredis.Reader()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    future = pending.popleft()
                    if not future.done():
                        future.set_result(reply)
        except Exception as exc:  # noqa: BLE001 - every waiter learns the connection is gone
            self._reset(ConnectionError(f"Redis connection lost: {exc!r}"), writer)

    def _reset(self, error: Exception, writer: asyncio.StreamWriter | None) -> None:
        """Drop ``writer``'s connection (only if it is still the current one); its waiters get ``error``."""
        if writer is None or writer is not self._writer:
            return
        self._writer, self._reader = None, None
        pending, self._pending = self._pending, collections.deque()
        self._outbox = []
        self._sent = 0
        self._deadlines.clear()
        self._grace = None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for future in pending:
            if not future.done():
                future.set_exception(type(error)(*error.args))
        writer.close()

    async def _send(self, command: tuple):
        future = asyncio.get_running_loop().create_future()
        # Appending the future and writing the bytes without an await between keeps their orders equal.
        self._pending.append(future)
        self._sent += 1
        self._outbox.append(_encode(command))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        reply = await future
        if isinstance(reply, hiredis.ReplyError):
            raise RespError(str(reply))
        return reply

    def _flush(self) -> None:
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, []
        writer = self._writer
        if outbox and writer is not None:
            writer.write(b"".join(outbox))
            loop = asyncio.get_running_loop()
            due = loop.time() + self.read_timeout
            self._deadlines.append((self._sent, due))
            if self._watchdog is None:
                self._watchdog = loop.call_at(due, self._watch)

    def _watch(self) -> None:
        """Drop the writes answered since the last look; time out the connection if the oldest
        write still owed a reply is past due, else look again when it falls due."""
        self._watchdog = None
        answered = self._sent - len(self._pending)
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= answered:
            deadlines.popleft()
        if not deadlines:
            self._grace = None
            return
        loop = asyncio.get_running_loop()
        due = deadlines[0][1]
        if due > loop.time():
            self._grace = None
            self._watchdog = loop.call_at(due, self._watch)
            return
        # Overdue. The first look, and each look that finds replies read since the one before, waits a
        # little longer: the loop may have been held up with the answer already in the socket.
        grace = self._grace
        if grace is None or (grace[0] < READ_GRACE_CHECKS and answered > grace[1]):
            self._grace = (1 if grace is None else grace[0] + 1, answered)
            self._watchdog = loop.call_later(READ_GRACE, self._watch)
            return
        # Replies still owed would reach the wrong callers: this connection is done for.
        self._down_until = time.monotonic() + RETRY_AFTER
        self._reset(TimeoutError(f"Redis did not answer within {self.read_timeout}s"), self._writer)

    async def execute(self, *command):
        """Send one command and return its reply; raises RespError, ConnectionError or TimeoutError."""
        if self._writer is None:
            await self._connect()
        return await self._send(command)

    async def eval(self, script: str, numkeys: int, *keys_and_args):
        """Run a Lua script by its SHA-1, sending the source only when Redis does not know it yet.

        Same call shape as redis-py's ``eval``, so code written for either client takes this one.
        """
        sha = _script_sha(script)
        try:
            return await self.execute("EVALSHA", sha, numkeys, *keys_and_args)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.execute("EVAL", script, numkeys, *keys_and_args)

    def close(self) -> None:
        self._reset(ConnectionError("closed"), self._writer)


_shas: dict[str, str] = {}


def _script_sha(script: str) -> str:
    sha = _shas.get(script)
    if sha is None:
        sha = _shas[script] = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
    return sha


_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PipelinedConnection] = weakref.WeakKeyDictionary()


def connection() -> PipelinedConnection:
    """The shared connection of the running event loop."""
    loop = asyncio.get_running_loop()
    conn = _connections.get(loop)
    if conn is None:
        conn = _connections[loop] = PipelinedConnection(settings.REDIS_URL)
    return conn


def reset_connections() -> None:
    """Forget every loop's connection (a changed REDIS_URL is picked up by the next command)."""
    for loop, conn in list(_connections.items()):
        if not loop.is_closed():
            conn.close()
    _connections.clear()
