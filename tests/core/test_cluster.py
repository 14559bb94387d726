"""``make cluster``'s configuration: what it refuses, what HAProxy is told, what the nodes get."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.cluster import Cluster, ClusterError, haproxy_config, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
SHARED = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/somewhere", "REDIS_URL": "redis://127.0.0.1:6379/3"}


def _settings(tmp_path, **extra):
    return settings_from_env({**SHARED, "DATA_DIR": str(tmp_path), "SECRET_KEY": "k", **extra})


@pytest.mark.parametrize(("env", "named"), [
    ({}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite:///db.sqlite3", "REDIS_URL": SHARED["REDIS_URL"]}, "DATABASE_URL"),
    ({"DATABASE_URL": SHARED["DATABASE_URL"]}, "REDIS_URL"),
    ({"DATABASE_URL": SHARED["DATABASE_URL"], "REDIS_URL": "unix:///tmp/redis.sock?db=0"}, "REDIS_URL"),
])
def test_the_embedded_sqlite_and_redis_are_refused_naming_what_to_set(tmp_path, env, named):
    with pytest.raises(ClusterError, match=named):
        settings_from_env({**env, "DATA_DIR": str(tmp_path)})


def test_make_cluster_on_the_embedded_default_exits_with_the_reason_and_starts_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_TESTING"}}
    result = subprocess.run([sys.executable, "-m", "core.cluster"], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={**env, "DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "needs PostgreSQL shared by every node" in result.stderr
    assert not (tmp_path / "cluster").exists()


@pytest.mark.parametrize("name", ["WEB_NODES", "WORKER_NODES", "CLUSTER_PORT"])
@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_counts_and_ports_must_be_positive_whole_numbers(tmp_path, name, value):
    with pytest.raises(ClusterError, match=name):
        _settings(tmp_path, **{name: value})


def test_every_web_node_is_behind_the_balancer_with_a_health_check(tmp_path):
    config = haproxy_config(_settings(tmp_path, WEB_NODES="3", CLUSTER_PORT="9000"))
    assert "bind 127.0.0.1:9000" in config
    assert "option httpchk GET /healthz" in config
    for index, port in ((1, 9101), (2, 9102), (3, 9103)):
        assert f"server web{index} 127.0.0.1:{port} check" in config
    assert "balance roundrobin" in config and "cookie" not in config  # no sticky sessions
    assert "timeout tunnel" in config  # WebSockets stay open


@pytest.mark.skipif(not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()), reason="HAProxy not installed")
def test_haproxy_accepts_the_generated_configuration(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy_config(_settings(tmp_path)))
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    result = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_nodes_never_share_a_fixed_snowflake_worker_id(tmp_path):
    settings = _settings(tmp_path, WORKER_ID="5")
    assert "WORKER_ID" not in settings.env
    cluster = Cluster(settings)
    assert all("WORKER_ID" not in node.env for node in cluster.nodes.values())


def test_the_cluster_has_the_nodes_it_was_asked_for_each_in_its_own_process(tmp_path):
    cluster = Cluster(_settings(tmp_path, WEB_NODES="3", WORKER_NODES="2", WEB_CONCURRENCY="2"))
    assert list(cluster.nodes) == ["web1", "web2", "web3", "worker1", "worker2", "beat", "haproxy"]
    assert "--workers" in cluster.web(1).command and "2" in cluster.web(1).command
    assert cluster.worker(2).command[cluster.worker(2).command.index("-n") + 1] == "worker2@%h"
    assert len({tuple(node.command) for node in cluster.nodes.values()}) == len(cluster.nodes)
