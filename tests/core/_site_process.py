"""The whole site as `make run` starts it (supervisord, core.process_manager), for tests.

A fresh DATA_DIR, a free port, no DATABASE_URL/REDIS_URL: the embedded default with
one web and one Celery process, stopped (and its process group killed) at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "scrape-token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_env(data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    drop = {"DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "DJANGO_TESTING", "WORKER_ID", "TRUSTED_PROXIES"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}
    env.update(
        DATA_DIR=str(data_dir), WEB_HOST="127.0.0.1", WEB_PORT=str(port), WEB_CONCURRENCY="1",
        CELERY_CONCURRENCY="1", METRICS_TOKEN=METRICS_TOKEN, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    env.update(extra)
    return env


class Site:
    def __init__(self, data_dir: Path, **extra: str):
        self.data_dir = data_dir
        self.port = free_port()
        self.env = site_env(data_dir, self.port, **extra)
        self.process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Site:
        # As `make run`: migrations first (this starts an on-demand Redis the supervised one replaces).
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT, env=self.env, check=True, timeout=120, capture_output=True,
        )
        self.log = open(self.data_dir / "site.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "core.process_manager"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"supervisord exited: {self.tail()}")
            if self.get("/healthz")[0] == 200 and all(self.state(name) == "RUNNING" for name in self.programs()):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"the site did not come up: {self.tail()}")

    def programs(self) -> list[str]:
        """Every supervised process (the web processes are a group sharing supervisord's socket)."""
        web = [f"web:web-{number}" for number in range(int(self.env["WEB_CONCURRENCY"]))]
        return ["redis", *web, "worker", "beat"]

    def tail(self, lines: int = 60) -> str:
        text = (self.data_dir / "site.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def ctl(self, *args: str) -> str:
        result = subprocess.run(
            [str(Path(sys.executable).with_name("supervisorctl")), "-c", str(self.data_dir / "supervisord.conf"), *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=30,
        )
        return result.stdout.strip()

    def state(self, name: str) -> str:
        parts = self.ctl("status", name).split()
        return parts[1] if len(parts) > 1 else "UNKNOWN"

    def pid(self, name: str) -> int:
        out = self.ctl("pid", name)
        return int(out) if out.isdigit() else 0

    def wait_for_new_pid(self, name: str, old: int, timeout: float) -> float:
        """Seconds until ``name`` runs again under a new pid (raises if it takes longer)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            pid = self.pid(name)
            if pid and pid != old and self.state(name) == "RUNNING":
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"{name} not back within {timeout}s: {self.ctl('status')}")

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, bytes, dict]:
        return self.request("GET", path, headers=headers, timeout=timeout)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict[str, str] | None = None,
                timeout: float = 5) -> tuple[int, bytes, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            all_headers = {"Content-Type": "application/json"} if body is not None else {}
            connection.request(method, path, body=payload, headers={**all_headers, **(headers or {})})
            response = connection.getresponse()
            return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
        except OSError:
            return 0, b"", {}
        finally:
            connection.close()

    def shorten(self, url: str) -> str:
        status, body, _ = self.request("POST", "/api/v1/shorten", {"long_url": url})
        assert status == 201, body
        return json.loads(body)["short_code"]

    def stored_clicks(self, code: str) -> int:
        """Click rows the consumer has written for a short code (read straight from the SQLite file)."""
        with sqlite3.connect(f"file:{self.data_dir / 'db.sqlite3'}?mode=ro", uri=True, timeout=20) as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM shortener_click c JOIN shortener_link l ON l.id = c.link_id "
                "WHERE l.short_code = ?",
                (code,),
            ).fetchone()
        return count

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        # Anything still running from this DATA_DIR (a daemon a manage.py command started): gone too.
        pid_file = self.data_dir / "redis.pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        if hasattr(self, "log"):
            self.log.close()


def supervisord_available() -> bool:
    return Path(sys.executable).with_name("supervisord").exists()


@contextmanager
def running_site(data_dir: Path, **extra: str) -> Iterator[Site]:
    site = Site(data_dir, **extra)
    try:
        yield site.start()
    finally:
        site.stop()
