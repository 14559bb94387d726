"""/healthz: 200 when PostgreSQL/SQLite and Redis answer, 503 naming what is down."""

import socket
import subprocess
import time

import pytest
from django.db import connections

from core.embedded_redis import redis_server_binary
from core.redis import reset_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def throwaway_redis(tmp_path):
    """A real redis-server of our own, so stopping it disturbs nobody."""
    sock = tmp_path / "redis.sock"
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        if sock.exists():
            break
        process.poll()
        assert process.returncode is None, "redis-server exited"
        time.sleep(0.02)
    yield process, f"unix://{sock}?db=0"
    process.kill()
    process.wait()


def test_healthz_is_ok_when_everything_answers(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_503_naming_redis_when_redis_stops(client, settings, throwaway_redis):
    process, url = throwaway_redis
    settings.REDIS_URL = url
    assert client.get("/healthz").status_code == 200

    process.terminate()
    process.wait()
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")


def test_healthz_reports_a_redis_that_never_answers_instead_of_hanging(client, settings):
    # Accepts connections (the kernel backlog) but never replies.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.REDIS_URL = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"

        response = client.get("/healthz")

    assert response.status_code == 503
    redis_check = response.json()["checks"]["redis"]
    # Either redis-py's own socket timeout or the check's overall bound reports it.
    assert redis_check.startswith("error: ")
    assert "Timeout" in redis_check or "timed out" in redis_check


def test_healthz_is_503_naming_the_database_when_it_is_unreachable(client, monkeypatch):
    db = connections.settings["default"]
    if db["ENGINE"].endswith("sqlite3"):
        monkeypatch.setitem(db, "NAME", "/nonexistent-dir/for-health/db.sqlite3")
    else:
        monkeypatch.setitem(db, "NAME", "no_such_database_for_health")
        monkeypatch.setitem(db, "OPTIONS", {k: v for k, v in db["OPTIONS"].items() if k != "pool"})

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "ok"
    assert body["checks"]["database"].startswith("error: OperationalError")


@pytest.fixture(autouse=True)
def _forget_redis_clients():
    yield
    reset_clients()
