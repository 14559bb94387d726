"""``make cluster``: several web and worker nodes on one machine behind HAProxy.

``python -m core.cluster`` starts ``WEB_NODES`` web nodes (each its own uvicorn with
``WEB_CONCURRENCY`` workers on its own loopback port, HTTP and WebSocket), ``WORKER_NODES``
Celery worker nodes (``CELERY_CONCURRENCY`` processes each), one Celery beat and HAProxy on
``CLUSTER_HOST:CLUSTER_PORT``. HAProxy balances round-robin (no sticky sessions: every node
reads and writes the same PostgreSQL and Redis), checks ``/healthz`` every second and takes a
node that fails two checks out of rotation; a connection refused by a dead node is
redispatched to another. Every node runs in its own process group, like a machine of its own:
a node that dies is started again (``make cluster`` keeps the cluster whole) and Ctrl-C stops
them all.

The nodes share state only through ``DATABASE_URL`` and ``REDIS_URL``, so both are required:
the embedded SQLite and the per-directory embedded Redis belong to one process tree and are
refused. Snowflake worker ids are leased in that Redis per process, never configured per node
(``WORKER_ID`` is dropped from the nodes' environment: a fixed id shared by several nodes
would repeat ids).

``Cluster`` is the same machinery as a library: the cluster tests and ``bench/cluster.py``
start, kill and restart nodes through it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.process_manager import BASE_DIR, data_dir

HEALTH_PATH = "/healthz"
HEALTH_INTERVAL_MS = 1000
HEALTH_FALL = 2  # failed checks before a node leaves rotation
HEALTH_RISE = 2  # passed checks before it comes back
START_TIMEOUT = 120.0


class ClusterError(Exception):
    """The cluster cannot run as configured (the message says why and what to set)."""


@dataclass(frozen=True)
class ClusterSettings:
    web_nodes: int
    worker_nodes: int
    host: str
    port: int
    web_base_port: int
    web_concurrency: int
    celery_concurrency: int
    directory: Path
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def web_port(self, index: int) -> int:
        return self.web_base_port + index


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ClusterError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 1:
        raise ClusterError(f"{name} must be at least 1, not {value}.")
    return value


def require_shared_backends(env: Mapping[str, str]) -> None:
    """Refuse the embedded default: nodes can only share a PostgreSQL server and a Redis server."""
    database = env.get("DATABASE_URL", "")
    redis_url = env.get("REDIS_URL", "")
    if not database.startswith(("postgres://", "postgresql://")):
        raise ClusterError(
            "make cluster needs PostgreSQL shared by every node: set DATABASE_URL=postgres://... "
            "(the embedded SQLite belongs to one machine's processes and cannot be shared)."
        )
    if not redis_url.startswith(("redis://", "rediss://")):
        raise ClusterError(
            "make cluster needs a Redis server shared by every node: set REDIS_URL=redis://host:port/db "
            "(the embedded Redis lives on a unix socket of one machine)."
        )


def settings_from_env(env: Mapping[str, str]) -> ClusterSettings:
    require_shared_backends(env)
    port = _positive(env, "CLUSTER_PORT", 8000)
    directory = data_dir(env)
    node_env = {k: v for k, v in env.items() if k != "WORKER_ID"}
    node_env.update({
        "DATA_DIR": str(directory),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or f"http://{env.get('CLUSTER_HOST', '127.0.0.1')}:{port}",
        "PYTHONUNBUFFERED": "1",
    })
    if not node_env.get("SECRET_KEY"):
        # One machine, one DATA_DIR: every node reads the same generated key (sessions and
        # signed values made by one node are accepted by the others).
        from core.secret import local_secret_key

        directory.mkdir(parents=True, exist_ok=True)
        node_env["SECRET_KEY"] = local_secret_key(directory)
    return ClusterSettings(
        web_nodes=_positive(env, "WEB_NODES", 2),
        worker_nodes=_positive(env, "WORKER_NODES", 2),
        host=env.get("CLUSTER_HOST", "127.0.0.1"),
        port=port,
        web_base_port=_positive(env, "CLUSTER_WEB_BASE_PORT", port + 100),
        web_concurrency=_positive(env, "WEB_CONCURRENCY", 1),
        celery_concurrency=_positive(env, "CELERY_CONCURRENCY", 2),
        directory=directory,
        env=node_env,
    )


def haproxy_config(settings: ClusterSettings) -> str:
    """HAProxy in front of the web nodes: HTTP and WebSocket on one address, health-checked."""
    servers = "\n".join(
        f"    server web{i} 127.0.0.1:{settings.web_port(i)} check"
        for i in range(1, settings.web_nodes + 1)
    )
    return f"""\
global
    maxconn 8000
    log stderr format short local0 notice

defaults
    mode http
    log global
    option dontlognull
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # An open WebSocket is a tunnel: it lives as long as its client keeps it.
    timeout tunnel 1h
    timeout http-keep-alive 10s
    # A connection refused by a dead node is retried on another one; only failed connects are
    # retried, so a request that reached a node is never sent twice by the balancer.
    retries 3
    option redispatch 1

frontend www
    bind {settings.host}:{settings.port}
    option forwardfor
    default_backend nodes

backend nodes
    balance roundrobin
    # Which node answered: for logs, tests and benchmarks (no client relies on it).
    http-response set-header X-Node %[srv_name]
    option httpchk GET {HEALTH_PATH}
    http-check expect status 200
    default-server inter {HEALTH_INTERVAL_MS}ms fall {HEALTH_FALL} rise {HEALTH_RISE} on-marked-down shutdown-sessions
{servers}
"""


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@dataclass
class Node:
    """One node: a command run in its own process group (killing the group is losing the machine)."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                self.command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def signal(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL the whole node at once, as a power cut would; waits until it is gone."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
            _wait_group_gone(self.process.pid)

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive:
            if self.process is not None:
                self.signal(signal.SIGKILL)  # children a dead leader left behind
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.signal(signal.SIGKILL)
        self.process.wait()
        _wait_group_gone(self.process.pid)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        if self.health_url is None:
            return
        wait_for_ok(self.health_url, timeout=timeout, node=self)


def _wait_group_gone(pgid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def wait_for_ok(url: str, *, timeout: float, node: Node | None = None) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if node is not None and not node.alive:
            raise ClusterError(f"{node.name} exited with {node.process.returncode}; see {node.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - our loopback URL
                if response.status == 200:
                    return
                last = response.status
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise ClusterError(f"{url} did not answer 200 within {timeout:.0f}s (last: {last!r})")


class Cluster:
    """The nodes of one cluster, started in dependency order and stopped in reverse."""

    def __init__(self, settings: ClusterSettings):
        self.settings = settings
        self.nodes: dict[str, Node] = {}
        directory = settings.directory / "cluster"
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        env = settings.env
        for i in range(1, settings.web_nodes + 1):
            port = settings.web_port(i)
            command = [
                _bin("uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--timeout-graceful-shutdown", "5",
                # HAProxy on loopback adds X-Forwarded-For; only it is believed.
                "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1",
            ]
            if settings.web_concurrency > 1:
                command += ["--workers", str(settings.web_concurrency)]
            self._add(f"web{i}", command, health_url=f"http://127.0.0.1:{port}{HEALTH_PATH}")
        for i in range(1, settings.worker_nodes + 1):
            self._add(f"worker{i}", [
                _bin("celery"), "-A", "config", "worker", "--loglevel", "WARNING", "-n", f"worker{i}@%h",
                "--concurrency", str(settings.celery_concurrency), "--without-gossip", "--without-mingle",
            ])
        self._add("beat", [
            _bin("celery"), "-A", "config", "beat", "--loglevel", "WARNING",
            "--schedule", str(directory / "celerybeat-schedule"),
        ])
        config = directory / "haproxy.cfg"
        config.write_text(haproxy_config(settings))
        self._add("haproxy", [haproxy_binary(), "-db", "-f", str(config)], health_url=f"{settings.url}{HEALTH_PATH}")
        self.env = env

    def _add(self, name: str, command: list[str], health_url: str | None = None) -> None:
        self.nodes[name] = Node(name, command, self.settings.env, self.directory / f"{name}.log", health_url)

    @property
    def url(self) -> str:
        return self.settings.url

    def web(self, index: int) -> Node:
        return self.nodes[f"web{index}"]

    def worker(self, index: int) -> Node:
        return self.nodes[f"worker{index}"]

    def node_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.settings.web_port(index)}"

    def migrate(self) -> None:
        subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=self.env, check=True,
        )

    def start(self) -> None:
        for node in self.nodes.values():
            node.start()
        try:
            for node in self.nodes.values():
                node.wait_healthy()
        except BaseException:
            self.stop()
            raise

    def restart_dead(self) -> list[str]:
        """Start again every node that is not running; returns their names."""
        restarted = [node for node in self.nodes.values() if not node.alive]
        for node in restarted:
            node.stop()  # anything of its group still around
            node.start()
        for node in restarted:
            node.wait_healthy()
        return [node.name for node in restarted]

    def wait_in_rotation(self, timeout: float = 30.0) -> None:
        """Wait until HAProxy has seen every web node pass its health checks again."""
        deadline = time.monotonic() + timeout
        expected = HEALTH_RISE * HEALTH_INTERVAL_MS / 1000 + 0.5
        for index in range(1, self.settings.web_nodes + 1):
            wait_for_ok(self.node_url(index) + HEALTH_PATH, timeout=max(1.0, deadline - time.monotonic()))
        time.sleep(expected)

    def stop(self) -> None:
        for node in reversed(list(self.nodes.values())):
            node.stop()

    def run_forever(self, poll: float = 1.0) -> None:
        """Keep every node up until SIGINT/SIGTERM, then stop them all."""
        stopping = False

        def request_stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping:
                time.sleep(poll)
                if stopping:
                    break
                for name in [n.name for n in self.nodes.values() if not n.alive]:
                    print(f"cluster: {name} died; starting it again", file=sys.stderr, flush=True)
                    node = self.nodes[name]
                    node.stop()
                    node.start()
        finally:
            self.stop()


def free_port_run(count: int) -> int:
    """A port p with p .. p+count-1 all free on loopback (the balancer, then one per web node)."""
    import socket

    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65000:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise ClusterError("no run of free ports on loopback")


def reset_backends(database_url: str, redis_url: str) -> None:
    """Drop and create the database of ``database_url`` and flush the Redis database of ``redis_url``.

    For the cluster tests and benchmarks, which own both; never point it at data you keep.
    """
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    import redis

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or name in {"postgres", "template0", "template1"}:
        raise ClusterError(f"refusing to reset the database {name!r}: give the cluster one of its own")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if not found:
        raise ClusterError("HAProxy is not installed: apt-get install -y haproxy (make cluster does it).")
    return found


def main(argv: list[str]) -> int:
    try:
        settings = settings_from_env(os.environ)
        if "--print-haproxy" in argv:
            sys.stdout.write(haproxy_config(settings))
            return 0
        cluster = Cluster(settings)
    except ClusterError as exc:
        print(f"make cluster: {exc}", file=sys.stderr)
        return 2
    cluster.migrate()
    subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], cwd=BASE_DIR, env=cluster.env,
        check=True,
    )
    cluster.start()
    names = ", ".join(cluster.nodes)
    print(f"cluster: {names} up; serving {cluster.url} (logs in {cluster.directory})", flush=True)
    cluster.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
