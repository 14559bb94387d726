"""Dependency checks for /healthz, each bounded so the endpoint never hangs."""

import concurrent.futures

from django.db import connections

CHECK_TIMEOUT = 1.5


def _check_database() -> str:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    finally:
        connection.close()


def _check_redis() -> str:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        return "ok"
    finally:
        client.close()


CHECKS = {"database": _check_database, "redis": _check_redis}


def run_checks() -> dict[str, str]:
    """Run every check in parallel; a check that fails or overruns reports its error."""
    results: dict[str, str] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(CHECKS))
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    done, _ = concurrent.futures.wait(futures.values(), timeout=CHECK_TIMEOUT)
    for name, future in futures.items():
        if future not in done:
            results[name] = f"error: timed out after {CHECK_TIMEOUT}s"
            continue
        try:
            results[name] = future.result()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
            results[name] = f"error: {type(exc).__name__}: {exc}"
    pool.shutdown(wait=False, cancel_futures=True)
    return results
