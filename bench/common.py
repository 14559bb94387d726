"""Benchmark harness shared by every ``bench/<name>.py``.

- ``ensure_debian_tools("nginx", "wrk")``: apt-get installs what is missing.
- ``project_server(env=..., workers=2, celery=False)``: migrates and boots
  ``uvicorn config.asgi:application`` (HTTP + WebSocket) on a free loopback port
  with a fresh DATA_DIR, optionally a Celery worker, waits for ``/healthz`` and
  yields the base URL (a ``str`` that also carries ``.data_dir``, ``.env`` and
  ``.manage(*args)`` to run management commands against the same server).
- ``wrk(url, ...) -> WrkResult`` and ``nginx_302_baseline(...)``: load and the
  in-run ceiling to compare with (wrk and the server share the same cores, so a
  baseline from another run means little).
- ``report(title, rows)``: prints an aligned table and appends JSON to
  ``bench/results/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
_TOOL_PACKAGES = {"nginx": "nginx", "wrk": "wrk", "redis-server": "redis-server", "psql": "postgresql-client"}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_debian_tools(*tools: str) -> None:
    """Install the Debian packages providing ``tools`` that are not on PATH."""
    missing = [tool for tool in tools if not _which(tool)]
    if not missing:
        return
    packages = sorted({_TOOL_PACKAGES.get(tool, tool) for tool in missing})
    log(f"installing {' '.join(packages)} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *packages], check=True, env=env, stdout=subprocess.DEVNULL)
    still = [tool for tool in tools if not _which(tool)]
    if still:
        raise RuntimeError(f"could not install {still}")


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL we built
                if response.status < 500:
                    return
        except urllib.error.HTTPError as exc:
            last_error = exc
            if exc.code < 500:
                return
        except OSError as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s: {last_error!r}")


def _stop(process: subprocess.Popen, *, timeout: float = 10.0) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Server(str):
    """The base URL of a running project server, plus how to reach its data."""

    data_dir: Path
    env: dict[str, str]

    def manage(self, *args: str, input: str | None = None) -> str:  # noqa: A002 - mirrors subprocess
        """Run ``manage.py <args>`` with the server's environment; returns stdout."""
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, input=input,
            capture_output=True, text=True, check=False,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout


@contextlib.contextmanager
def project_server(
    *, env: dict[str, str] | None = None, workers: int = 2, celery: bool = False, port: int | None = None
) -> Iterator[Server]:
    """Boot the project as production would run it (DEBUG=0, uvicorn, ``workers``).

    The embedded SQLite + Redis live in a fresh DATA_DIR unless ``env`` gives
    ``DATABASE_URL``/``REDIS_URL``; ``env`` is layered over the current environment.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="bench-data-"))
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "WORKER_ID"}}
    server_env = {
        **base_env,
        "DATA_DIR": str(data_dir),
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    server_env.setdefault("PUBLIC_BASE_URL", base)
    processes: list[subprocess.Popen] = []
    logs = []
    try:
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=server_env, check=True)
        web_log = open(data_dir / "web.log", "w")  # noqa: SIM115 - closed in finally
        logs.append(web_log)
        web = subprocess.Popen(
            [
                str(Path(PYTHON).parent / "uvicorn"), "config.asgi:application",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--no-access-log", "--log-level", "warning", "--ws", "websockets-sansio",
            ],
            cwd=ROOT, env=server_env, stdout=web_log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        processes.append(web)
        if celery:
            worker_log = open(data_dir / "celery.log", "w")  # noqa: SIM115 - closed in finally
            logs.append(worker_log)
            processes.append(
                subprocess.Popen(
                    [
                        str(Path(PYTHON).parent / "celery"), "-A", "config", "worker", "--loglevel", "WARNING",
                        "--concurrency", "2", "--without-gossip", "--without-mingle",
                    ],
                    cwd=ROOT, env=server_env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            )
        try:
            wait_for_http(f"{base}/healthz", timeout=60, process=web)
        except Exception:
            log((data_dir / "web.log").read_text()[-4000:])
            raise
        server = Server(base)
        server.data_dir = data_dir
        server.env = server_env
        yield server
    finally:
        for process in reversed(processes):
            _stop(process)
        for handle in logs:
            handle.close()
        pid_file = data_dir / "redis.pid"
        if pid_file.exists():  # the embedded Redis of this DATA_DIR outlives the web server by design
            with contextlib.suppress(ValueError, ProcessLookupError):
                redis_pid = int(pid_file.read_text().strip())
                os.kill(redis_pid, signal.SIGTERM)
                for _ in range(100):  # let it exit before its directory goes
                    os.kill(redis_pid, 0)
                    time.sleep(0.05)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class WrkResult:
    url: str
    connections: int
    duration: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    non_2xx_3xx: int

    def row(self, name: str, **extra) -> dict:
        return {
            "name": name, "rps": round(self.rps), "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
            "errors": self.errors, "non_2xx_3xx": self.non_2xx_3xx, **extra,
        }


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)], 3)


def parse_wrk(output: str, *, url: str, connections: int, duration: int) -> WrkResult:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.MULTILINE)
        return _ms(match.group(1)) if match else float("nan")

    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if not (requests and rps):
        raise RuntimeError(f"could not parse wrk output:\n{output}")
    return WrkResult(
        url=url, connections=connections, duration=duration,
        requests=int(requests.group(1)), rps=float(rps.group(1)),
        p50_ms=latency("50"), p90_ms=latency("90"), p99_ms=latency("99"),
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk(
    url: str,
    *,
    connections: int = 64,
    duration: int = 10,
    threads: int = 2,
    lua: str | None = None,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run wrk against ``url`` (``lua``: the text of a wrk script, not a path)."""
    ensure_debian_tools("wrk")
    args = ["wrk", "--latency", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        if lua:
            script = Path(tmp) / "script.lua"
            script.write_text(lua)
            args += ["-s", str(script)]
        result = subprocess.run([*args, url], capture_output=True, text=True, check=True)
    return parse_wrk(result.stdout, url=url, connections=connections, duration=duration)


_NGINX_CONF = """\
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 302 https://example.com/; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_302_server() -> Iterator[str]:
    """nginx answering every request with ``302`` on loopback; yields its base URL."""
    ensure_debian_tools("nginx")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as prefix:
        conf = Path(prefix) / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(prefix=prefix, port=port))
        process = subprocess.Popen(
            [_which("nginx"), "-p", prefix, "-c", str(conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for_port(port, process)
            yield base
        finally:
            _stop(process)


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


def nginx_302_baseline(*, connections: int = 64, duration: int = 10) -> WrkResult:
    """The ceiling for a redirect on this machine, measured now."""
    with nginx_302_server() as base:
        return wrk(f"{base}/abc", connections=connections, duration=duration)


def _cell(value) -> str:
    if isinstance(value, float):
        if value < 1:
            return f"{value:.3f}"  # ratios: 0.003 must not print as 0.00
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def report(title: str, rows: list[dict]) -> Path:
    """Print ``rows`` as a table and append them, with the machine, to bench/results/."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    table = [[_cell(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(line[i]) for line in table)) for i, col in enumerate(columns)]
    print(f"\n## {title}")
    print("  ".join(col.ljust(width) for col, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for line in table:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC)
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    path = RESULTS_DIR / f"{stamp:%Y%m%dT%H%M%S}-{slug}.json"
    payload = {"title": title, "at": stamp.isoformat(), "cpus": os.cpu_count(), "rows": rows}
    path.write_text(json.dumps(payload, indent=2, default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o)))
    return path
