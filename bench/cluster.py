"""Scale-out on one machine: cached redirects (clicks recorded) through HAProxy with 1 and 2 web nodes.

``python -m bench cluster`` (env: BENCH_DURATION seconds per wrk run, default 10;
CLUSTER_BENCH_DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/cluster_bench``, and
CLUSTER_BENCH_REDIS_URL, default ``redis://127.0.0.1:6379/10`` — a database and a Redis database
of its own, dropped and flushed) measures, in one run:

1. nginx ``return 302`` (the ceiling of a redirect on this machine, now);
2. one web node (one uvicorn process) answered directly, without the balancer;
3. the same through HAProxy with 1 web node, then with 2, each with one worker node and beat
   consuming the clicks meanwhile.

Each row gives requests/s, its ratio to nginx and requests/s per web process: the per-core
throughput the capacity model (docs/scaling.md) divides the design's peak by. wrk, HAProxy,
PostgreSQL, Redis and the workers share the same two cores with the web nodes, so two nodes
cannot double one node's figure here; on separate machines each node has its cores to itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT, ensure_debian_tools, log, nginx_302_baseline, report, wrk
from core.cluster import Cluster, free_port_run, reset_backends, settings_from_env

CONNECTIONS = 64
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
DATABASE_URL = os.environ.get("CLUSTER_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cluster_bench")
REDIS_URL = os.environ.get("CLUSTER_BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

SEED = """
import json
from django.contrib.auth import get_user_model
from shortener.services.links import LinkInput, link_create
owner, _ = get_user_model().objects.get_or_create(username="bench-cluster")
link = link_create(owner=owner, data=LinkInput(long_url="https://example.com/bench"), throttle=False)
print(json.dumps({"code": link.short_code}))
"""


def _cluster(web_nodes: int, directory: Path) -> Cluster:
    port = free_port_run(web_nodes + 1)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "WORKER_ID", "DATA_DIR"}}
    env.update({
        "DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "DATA_DIR": str(directory),
        "CLUSTER_PORT": str(port), "CLUSTER_WEB_BASE_PORT": str(port),
        "WEB_NODES": str(web_nodes), "WORKER_NODES": "1", "WEB_CONCURRENCY": "1", "CELERY_CONCURRENCY": "1",
        "DEBUG": "0", "SECRET_KEY": "bench-" + os.urandom(16).hex(), "LOG_LEVEL": "WARNING",
    })
    return Cluster(settings_from_env(env))


def _seed(cluster: Cluster) -> str:
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", SEED], cwd=ROOT, env=cluster.env,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["code"]


def _measure(url: str, duration: int):
    headers = {"User-Agent": UA}
    wrk(url, connections=CONNECTIONS, duration=2, headers=headers)  # warm the cache and the connections
    return wrk(url, connections=CONNECTIONS, duration=duration, headers=headers)


def main() -> None:
    ensure_debian_tools("nginx", "wrk", "haproxy")
    duration = int(os.environ.get("BENCH_DURATION", "10"))
    nginx = nginx_302_baseline(connections=CONNECTIONS, duration=duration)
    log(f"nginx: {nginx.rps:,.0f} req/s")
    rows = [nginx.row("nginx return 302", ratio=1.0, web_processes=0, rps_per_web_process="")]
    reset_backends(DATABASE_URL, REDIS_URL)
    migrated = False
    for web_nodes in (1, 2):
        with tempfile.TemporaryDirectory(prefix="bench-cluster-") as directory:
            cluster = _cluster(web_nodes, Path(directory))
            if not migrated:
                cluster.migrate()
                migrated = True
            cluster.start()
            try:
                code = _seed(cluster)
                if web_nodes == 1:
                    direct = _measure(f"{cluster.node_url(1)}/{code}", duration)
                    rows.append(direct.row("1 web node, direct (no balancer)", ratio=round(direct.rps / nginx.rps, 3),
                                           web_processes=1, rps_per_web_process=round(direct.rps)))
                    log(f"1 node direct: {direct.rps:,.0f} req/s")
                through = _measure(f"{cluster.url}/{code}", duration)
                rows.append(through.row(f"{web_nodes} web node(s) behind HAProxy", ratio=round(through.rps / nginx.rps, 3),
                                        web_processes=web_nodes, rps_per_web_process=round(through.rps / web_nodes)))
                log(f"{web_nodes} node(s) through HAProxy: {through.rps:,.0f} req/s")
            finally:
                cluster.stop()
    report("cluster: cached redirects (clicks recorded) through HAProxy, 2-core machine", rows)
