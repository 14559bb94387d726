"""Platform serving costs at 64 connections: nginx vs Django under ASGI vs the hot-path router.

``python -m bench platform`` (env: BENCH_DURATION seconds per run, default 10).
"""

import os

from bench.common import ensure_debian_tools, log, nginx_302_baseline, project_server, report, wrk

CONNECTIONS = 64


def main() -> None:
    ensure_debian_tools("nginx", "wrk")
    duration = int(os.environ.get("BENCH_DURATION", "10"))
    nginx = nginx_302_baseline(connections=CONNECTIONS, duration=duration)
    rows = [nginx.row("nginx return 302", ratio="1.000")]
    env = {"DJANGO_SETTINGS_MODULE": "bench._platform.settings", "HOT_PATH_HANDLERS": "bench._platform.hot.handle"}
    with project_server(env=env, workers=2) as base:
        routes = [
            ("Django RedirectView, uvicorn ASGI x2", "/bench/django-redirect"),
            ("hot-path handler 302, uvicorn x2", "/bench/hot-redirect"),
            ("hot-path handler + 1 Redis GET, uvicorn x2", "/bench/hot-redirect-redis"),
        ]
        for name, route in routes:
            wrk(base + route, connections=CONNECTIONS, duration=2)  # warm up workers and pools
            result = wrk(base + route, connections=CONNECTIONS, duration=duration)
            log(f"{name}: {result.rps:,.0f} req/s")
            rows.append(result.row(name, ratio=f"{result.rps / nginx.rps:.3f}"))
    report(f"platform: 302 at {CONNECTIONS} connections ({duration}s each)", rows)


if __name__ == "__main__":
    main()
