"""``make run``: every process of the site under supervisord, in the foreground.

``python -m core.process_manager`` writes ``DATA_DIR/supervisord.conf`` from the
environment and replaces itself with ``supervisord -n``: the web servers (``WEB_CONCURRENCY``
uvicorn processes, HTTP and WebSocket, sharing one listening socket that supervisord holds),
the Celery worker, Celery beat and, when ``REDIS_URL`` is unset, the embedded Redis. A process that dies is started again within a second or two while the others keep
serving; Ctrl-C (SIGINT) or SIGTERM stops them all, Redis last. ``--print`` shows the
configuration instead. This module reads the environment itself and does not import Django
settings, which would start an on-demand Redis.

Environment: ``WEB_HOST``, ``WEB_PORT``, ``WEB_CONCURRENCY``, ``CELERY_CONCURRENCY``,
``TRUSTED_PROXIES`` (uvicorn's ``--forwarded-allow-ips``; empty: proxy headers ignored),
``DATA_DIR``, ``REDIS_URL``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG_NAME = "supervisord.conf"
# sun_path is 108 bytes on Linux; keep the control socket inside DATA_DIR when it fits.
_MAX_SOCKET_PATH = 100


def data_dir(env: Mapping[str, str]) -> Path:
    """As settings.DATA_DIR: the environment's DATA_DIR, else ./var beside the project."""
    return Path(env.get("DATA_DIR") or BASE_DIR / "var").resolve()


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def web_command(env: Mapping[str, str]) -> list[str]:
    """One uvicorn process serving the listening socket it is handed as fd 0 (supervisord owns it).

    X-Forwarded-* are believed only from TRUSTED_PROXIES.
    """
    command = [
        sys.executable, "-m", "uvicorn", "config.asgi:application", "--fd", "0",
        "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]
    proxies = _list(env.get("TRUSTED_PROXIES", ""))
    if proxies:
        command += ["--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)]
    else:
        # uvicorn's default trusts loopback: any local client could pick its own address.
        command += ["--no-proxy-headers"]
    return command


def web_socket(env: Mapping[str, str]) -> str:
    host = env.get("WEB_HOST", "127.0.0.1")
    return f"tcp://{host}:{env.get('WEB_PORT', '8000')}"


def programs(env: Mapping[str, str]) -> dict[str, list[str]]:
    """Name → command of every supervised process, in start order."""
    python = sys.executable
    commands: dict[str, list[str]] = {}
    if not env.get("REDIS_URL"):
        commands["redis"] = [python, "-m", "core.embedded_redis"]
    commands["web"] = web_command(env)
    commands["worker"] = [
        python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
        "--concurrency", env.get("CELERY_CONCURRENCY", "2"), "--without-gossip", "--without-mingle",
    ]
    commands["beat"] = [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"]
    return commands


def control_socket(env: Mapping[str, str]) -> Path:
    path = data_dir(env) / "supervisor.sock"
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    import hashlib
    import tempfile

    digest = hashlib.sha256(os.fsencode(data_dir(env))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"supervisor-{digest}.sock"


def _escape(value: str) -> str:
    return value.replace("%", "%%")  # supervisord expands %(name)s in values


def render_config(env: Mapping[str, str]) -> str:
    directory = data_dir(env)
    sock = control_socket(env)
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={_escape(str(directory / 'supervisord.log'))}",
        "logfile_maxbytes=10MB",
        "logfile_backups=2",
        f"pidfile={_escape(str(directory / 'supervisord.pid'))}",
        f"childlogdir={_escape(str(directory))}",
        "",
        "[unix_http_server]",
        f"file={_escape(str(sock))}",
        "chmod=0700",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{_escape(str(sock))}",
    ]
    for priority, (name, command) in enumerate(programs(env).items(), start=1):
        if name == "web":
            # supervisord holds the listening socket and hands it to WEB_CONCURRENCY single-process
            # uvicorns: one that dies is restarted on its own while the others answer on the same
            # socket (a multi-worker uvicorn killed by SIGKILL would orphan workers still bound to it).
            lines += [
                "",
                f"[fcgi-program:{name}]",
                f"socket={_escape(web_socket(env))}",
                f"numprocs={int(env.get('WEB_CONCURRENCY', '2'))}",
                "process_name=%(program_name)s-%(process_num)d",
            ]
        else:
            lines += ["", f"[program:{name}]"]
        lines += [
            f"command={_escape(shlex.join(command))}",
            f"directory={_escape(str(BASE_DIR))}",
            # Lower priorities start first and stop last: Redis before, and after, its clients.
            f"priority={priority * 10}",
            "autostart=true",
            "autorestart=true",
            # Up for a second counts as started; a client of a Redis still starting just retries.
            "startsecs=1",
            "startretries=30",
            "stopsignal=TERM",
            # Redis writes its snapshot on the way out; the others have their own short graceful stops.
            f"stopwaitsecs={60 if name == 'redis' else 15}",
            # uvicorn and Celery fork workers: stop and kill the whole group, never leave orphans.
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            "stdout_logfile=/dev/stdout",
            "stdout_logfile_maxbytes=0",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    env = dict(os.environ)
    if not env.get("REDIS_URL"):
        # Django settings connect to the supervised Redis instead of starting their own.
        env["EMBEDDED_REDIS_SUPERVISED"] = "1"
    env["DATA_DIR"] = str(data_dir(env))
    config = render_config(env)
    if "--print" in argv:
        sys.stdout.write(config)
        return
    directory = data_dir(env)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_NAME
    path.write_text(config)
    supervisord = str(Path(sys.executable).with_name("supervisord"))
    os.execve(supervisord, [supervisord, "--nodaemon", "--configuration", str(path)], env)  # noqa: S606


if __name__ == "__main__":
    main(sys.argv[1:])
