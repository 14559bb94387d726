"""Configuration from the environment: secrets and the embedded Redis."""

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _boot(env: dict, tmp_path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_TESTING", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path),
             "REDIS_URL": settings.REDIS_URL, **env},
    )


def test_a_deployment_with_its_own_database_refuses_to_start_without_a_secret_key(tmp_path):
    result = _boot({"DEBUG": "0", "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing"}, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DATABASE_URL is set and DEBUG=0" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_debug_is_off_unless_asked_for(tmp_path):
    result = _boot({}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_debug_1_is_the_development_switch(tmp_path):
    result = _boot({"DEBUG": "1"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_the_embedded_default_starts_in_production_mode_with_a_key_generated_into_data_dir(tmp_path):
    result = _boot({"DEBUG": "0"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert len((tmp_path / "secret_key").read_text()) >= 50


def test_production_mode_starts_with_a_secret_key(tmp_path):
    result = _boot({"DEBUG": "0", "SECRET_KEY": "x" * 50}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_local_runs_generate_one_secret_key_per_data_dir(tmp_path):
    first = _boot({}, tmp_path)
    second = _boot({}, tmp_path)

    assert first.returncode == second.returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def _start_embedded(data_dir: str) -> tuple[str, int]:
    import redis

    from core.embedded_redis import ensure_embedded_redis

    sock = ensure_embedded_redis(Path(data_dir))
    client = redis.Redis(unix_socket_path=str(sock))
    pid = client.info("server")["process_id"]
    client.close()
    return str(sock), pid


def test_the_embedded_redis_is_started_once_per_data_dir_by_concurrent_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(4, maxtasksperchild=1) as pool:
            answers = pool.map_async(_start_embedded, [str(tmp_path)] * 4).get(timeout=120)

        assert len(set(answers)) == 1
        sock, pid = answers[0]
        assert Path(sock) == tmp_path / "redis.sock"
        assert int((tmp_path / "redis.pid").read_text()) == pid
    finally:
        pid_file = tmp_path / "redis.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 15)


def test_processes_starting_together_agree_on_one_secret_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from core.secret import local_secret_key

    barrier = Barrier(8)

    def start():
        barrier.wait()
        return local_secret_key(tmp_path)

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: start(), range(8)))

    assert len(set(keys)) == 1
    assert len(keys[0]) >= 50
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]


def test_a_data_dir_too_deep_for_a_unix_socket_still_gets_its_redis(tmp_path):
    import redis

    from core.embedded_redis import ensure_embedded_redis

    deep = tmp_path / ("d" * 60) / ("e" * 60)
    try:
        sock = ensure_embedded_redis(deep)
        again = ensure_embedded_redis(deep)

        assert sock == again
        assert len(str(sock)) <= 100
        client = redis.Redis(unix_socket_path=str(sock))
        assert client.ping()
        assert client.info("server")["process_id"] == int((deep / "redis.pid").read_text())
        client.close()
    finally:
        pid_file = deep / "redis.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 15)


def test_a_task_held_by_a_dead_worker_is_handed_out_again_within_minutes_not_an_hour(tmp_path):
    probe = ("import django; django.setup(); from django.conf import settings; "
             "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'])")
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_TESTING", "DATABASE_URL"}}
    env = {**base, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path),
           "REDIS_URL": settings.REDIS_URL}
    default = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env=env, check=True)
    tuned = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={**env, "CELERY_VISIBILITY_TIMEOUT": "45"}, check=True)
    assert int(default.stdout) == 300
    assert int(tuned.stdout) == 45
    from config.celery import app

    assert app.conf.broker_transport_options["visibility_timeout"] == settings.CELERY_BROKER_TRANSPORT_OPTIONS[
        "visibility_timeout"]
