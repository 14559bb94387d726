"""A real cluster for the tests in this folder: two web nodes, two worker nodes, beat, HAProxy.

The nodes are real processes against a real PostgreSQL and Redis, named by
``CLUSTER_DATABASE_URL`` (a database of its own: it is dropped and created again) and
``CLUSTER_REDIS_URL`` (a Redis database of its own: it is flushed). Without both the tests
are skipped: SQLite and the embedded Redis cannot be shared by several machines.

One cluster serves the whole session and is stopped at its end; a test that kills a node
gets it started again before the next test runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
import redis

from core.cluster import Cluster, free_port_run, reset_backends, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("CLUSTER_DATABASE_URL", "")
REDIS_URL = os.environ.get("CLUSTER_REDIS_URL", "")
SKIP_REASON = (
    "cluster tests need PostgreSQL and Redis shared by several nodes: "
    "set CLUSTER_DATABASE_URL=postgres://... and CLUSTER_REDIS_URL=redis://host:port/db"
)
# Names only the test harness sets; the nodes are started as production would start them.
_NOT_FOR_NODES = {"DATABASE_URL", "REDIS_URL", "WORKER_ID", "DJANGO_TESTING", "PYTEST_XDIST_WORKER",
                  "PYTEST_CURRENT_TEST", "PYTEST_XDIST_TESTRUNUID", "CELERY_TASK_ALWAYS_EAGER", "DATA_DIR"}


def pytest_collection_modifyitems(config, items):
    if DATABASE_URL and REDIS_URL:
        return
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


class ClusterHarness:
    """The running cluster plus what the tests need around it."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.url = cluster.url
        self.ws_url = cluster.url.replace("http://", "ws://")
        self.redis = redis.Redis.from_url(REDIS_URL)

    def node_ws(self, index: int) -> str:
        return self.cluster.node_url(index).replace("http://", "ws://")

    def shell(self, code: str) -> dict:
        """Run ``code`` in ``manage.py shell`` on the cluster's database; returns the JSON it prints last."""
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.cluster.env,
            capture_output=True, text=True, timeout=120, check=False,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py shell failed:\n{result.stderr[-4000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    def node_pids(self, name: str) -> set[int]:
        """Every live process of a node (its process group)."""
        node = self.cluster.nodes[name]
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[2]) == node.pid:  # field 5 of stat: the process group
                    pids.add(int(entry.name))
        return pids


@pytest.fixture(scope="session")
def cluster_session():
    if not (DATABASE_URL and REDIS_URL):
        pytest.skip(SKIP_REASON)
    if not (shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")):
        pytest.fail("HAProxy is not installed (apt-get install -y haproxy)")
    reset_backends(DATABASE_URL, REDIS_URL)
    directory = Path(tempfile.mkdtemp(prefix="cluster-test-"))
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_NODES and not k.startswith("CLUSTER_")}
    port = free_port_run(3)
    env.update({
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "DATA_DIR": str(directory),
        "CLUSTER_PORT": str(port),
        "CLUSTER_WEB_BASE_PORT": str(port),  # web1 = port + 1, web2 = port + 2
        "WEB_NODES": "2",
        "WORKER_NODES": "2",
        "WEB_CONCURRENCY": "1",
        "CELERY_CONCURRENCY": "2",
        "DEBUG": "0",
        "SECRET_KEY": "cluster-test-" + os.urandom(16).hex(),
        # A dead worker's clicks are claimed after 3 s instead of 30 s, to keep the suite short.
        "SHORTENER_CLAIM_IDLE_SECONDS": "3",
    })
    cluster = Cluster(settings_from_env(env))
    try:
        cluster.migrate()
        cluster.start()
        yield ClusterHarness(cluster)
    finally:
        cluster.stop()
        redis.Redis.from_url(REDIS_URL).flushdb()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def cluster(cluster_session):
    """The session's cluster with every node up and every web node back in the balancer's rotation."""
    cluster_session.cluster.restart_dead()
    cluster_session.cluster.wait_in_rotation()
    return cluster_session
