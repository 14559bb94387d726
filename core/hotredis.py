"""A minimal pipelined Redis client for the redirect hot path.

redis-py's asyncio client checks a connection out of a pool and back for every command; under
load that bookkeeping costs more CPU than the Redis work itself. Here all coroutines of one event
loop share one connection: each command is written whole, replies arrive in the order the
commands were sent, and a FIFO of futures hands each reply to its caller (plain RESP pipelining).
"""

from __future__ import annotations

import asyncio
import collections
import weakref

import hiredis
from django.conf import settings
from redis.connection import parse_url


class RespError(Exception):
    pass


def _encode(args: tuple) -> bytes:
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


class PipelinedConnection:
    def __init__(self, url: str):
        self._params = parse_url(url)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: collections.deque[asyncio.Future] = collections.deque()
        self._connecting: asyncio.Lock | None = None
        self._read_task: asyncio.Task | None = None
        # Commands of one event-loop pass go out in one write (one syscall here, one read in Redis).
        self._outbox: list[bytes] = []
        self._flush_scheduled = False

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return
            params = self._params
            if "path" in params:
                reader, writer = await asyncio.open_unix_connection(params["path"])
            else:
                reader, writer = await asyncio.open_connection(params.get("host", "127.0.0.1"), params.get("port", 6379))
            self._reader, self._writer = reader, writer
            self._read_task = asyncio.get_running_loop().create_task(self._read_replies(reader))
            setup = []
            if params.get("password"):
                setup.append(("AUTH", *([params["username"]] if params.get("username") else []), params["password"]))
            if params.get("db"):
                setup.append(("SELECT", params["db"]))
            for command in setup:
                await self._send(command)

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        parser = hiredis.Reader()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                parser.feed(data)
                while (reply := parser.gets()) is not False:
                    future = self._pending.popleft()
                    if not future.done():
                        future.set_result(reply)
        except Exception as exc:  # noqa: BLE001 - every waiter learns the connection is gone
            self._reset(exc)

    def _reset(self, exc: BaseException) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        pending, self._pending = self._pending, collections.deque()
        self._outbox = []
        for future in pending:
            if not future.done():
                future.set_exception(ConnectionError(f"Redis connection lost: {exc}"))
        if writer is not None:
            writer.close()

    async def _send(self, command: tuple):
        future = asyncio.get_running_loop().create_future()
        # Appending the future and writing the bytes without an await between keeps their orders equal.
        self._pending.append(future)
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
        if outbox and self._writer is not None:
            self._writer.write(b"".join(outbox))

    async def execute(self, *command):
        if self._writer is None:
            await self._connect()
        return await self._send(command)


_connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PipelinedConnection] = weakref.WeakKeyDictionary()


def connection() -> PipelinedConnection:
    """The shared connection of the running event loop."""
    loop = asyncio.get_running_loop()
    conn = _connections.get(loop)
    if conn is None:
        conn = _connections[loop] = PipelinedConnection(settings.REDIS_URL)
    return conn
