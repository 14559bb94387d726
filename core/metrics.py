"""Request metrics in Prometheus text format, aggregated across processes.

Each process counts requests and latency buckets in memory and a background
thread adds them to Redis hashes every couple of seconds (one pipelined
HINCRBY batch), so ``/metrics`` reports every web worker whichever one answers.
Counting is on every request's path (hot handlers included), so it does the
least it can there: one bucket index found by bisection, counters keyed by
tuples; the cumulative ``le`` buckets and the field names are made at flush.
"""

import hmac
import os
import threading
import time
from bisect import bisect_left
from collections import Counter

from core.middleware import DualModeMiddleware
from core.store import METRICS_COUNTERS_KEY, METRICS_LATENCY_KEY, METRICS_REQUESTS_KEY

# Counters other code increments with ``recorder.count(name, **labels)``: name -> help text.
COUNTERS = {
    "publish_failures_total": "WebSocket group publishes that failed (logged, not retried), by app.",
    "task_enqueue_failures_total": "Celery tasks that could not be sent after a commit (broker down), by app and task.",
}
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_SECONDS = 2.0


def _new_histogram() -> list[int]:
    """Observations per bucket, not cumulative: index i holds those in (BUCKETS[i-1], BUCKETS[i]],
    the last index those above every bound."""
    return [0] * (len(BUCKETS) + 1)


class Recorder:
    def __init__(self):
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str, int]] = Counter()
        self._histograms: dict[str, list[int]] = {}
        self._sums: Counter[str] = Counter()
        self._counters: Counter[str] = Counter()
        self._flushing = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # A forked child (a web or Celery worker) has no flushing thread: it starts its own.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # The parent flushes what it counted before the fork; the child counts from zero.
        self._lock = threading.Lock()
        self._requests, self._histograms, self._sums, self._counters = Counter(), {}, Counter(), Counter()
        self._flushing = False

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        index = bisect_left(BUCKETS, seconds)  # the first bound with seconds <= bound
        with self._lock:
            self._requests[(route, method, status)] += 1
            histogram = self._histograms.get(route)
            if histogram is None:
                histogram = self._histograms[route] = _new_histogram()
            histogram[index] += 1
            self._sums[route] += seconds
            if not self._flushing:
                self._start_flushing()

    def count(self, name: str, amount: int = 1, **labels: str) -> None:
        """Add to the counter ``name`` (declared in COUNTERS) with these label values."""
        rendered = ",".join(f'{key}="{_escape(str(value))}"' for key, value in sorted(labels.items()))
        with self._lock:
            self._counters[f"{name}|{rendered}"] += amount
            if not self._flushing:
                self._start_flushing()

    def _start_flushing(self) -> None:
        self._flushing = True
        self._thread = threading.Thread(target=self._flush_forever, daemon=True, name="metrics-flush")
        self._thread.start()

    def flush(self) -> None:
        with self._lock:
            requests, histograms, sums, counters = self._requests, self._histograms, self._sums, self._counters
            self._requests, self._histograms, self._sums, self._counters = Counter(), {}, Counter(), Counter()
        if not (requests or histograms or counters):
            return
        from core.redis import get_redis

        try:
            pipe = get_redis().pipeline(transaction=False)
            for (route, method, status), count in requests.items():
                pipe.hincrby(METRICS_REQUESTS_KEY, f"{route}|{method}|{status}", count)
            for route, histogram in histograms.items():
                cumulative = 0
                for bound, count in zip(BUCKETS, histogram, strict=False):
                    cumulative += count
                    if cumulative:
                        pipe.hincrby(METRICS_LATENCY_KEY, f"{route}|{bound}", cumulative)
                pipe.hincrby(METRICS_LATENCY_KEY, f"{route}|+Inf", sum(histogram))
            for route, total in sums.items():
                pipe.hincrbyfloat(METRICS_LATENCY_KEY, f"{route}|sum", total)
            for field, count in counters.items():
                pipe.hincrby(METRICS_COUNTERS_KEY, field, count)
            pipe.execute()
        except Exception:  # Redis down: keep the counts for the next flush
            with self._lock:
                self._requests.update(requests)
                for route, histogram in histograms.items():
                    kept = self._histograms.setdefault(route, _new_histogram())
                    for index, count in enumerate(histogram):
                        kept[index] += count
                self._sums.update(sums)
                self._counters.update(counters)

    def _flush_forever(self) -> None:
        while not self._stopped.wait(FLUSH_SECONDS):
            self.flush()

    def stop(self) -> None:
        """Stop the background flushing of this process (its counts so far are dropped)."""
        self._stopped.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=FLUSH_SECONDS + 5)
        with self._lock:
            self._requests, self._histograms, self._sums = Counter(), {}, Counter()
            self._counters = Counter()


recorder = Recorder()


def route_of(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or match.view_name or "unknown").lstrip("^")


class MetricsMiddleware(DualModeMiddleware):
    """Times every Django request; works natively under both WSGI and ASGI."""

    def before(self, request):
        return time.perf_counter()

    def after(self, request, response, started):
        recorder.observe(route_of(request), request.method, response.status_code, time.perf_counter() - started)
        return response


def scrape_authorized(request) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>`` (what Prometheus' bearer_token sends); no token set, no scrape."""
    from django.conf import settings

    expected = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render() -> str:
    """Prometheus exposition text for all processes' flushed counts."""
    from django.conf import settings

    from core.redis import get_redis

    recorder.flush()
    client = get_redis()
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(METRICS_REQUESTS_KEY)
    pipe.hgetall(METRICS_LATENCY_KEY)
    pipe.hgetall(METRICS_COUNTERS_KEY)
    for queue in settings.CELERY_QUEUES_REPORTED:
        pipe.llen(queue)
    requests, latency, counters, *depths = pipe.execute()

    lines = [
        "# HELP http_requests_total HTTP requests by route, method and status.",
        "# TYPE http_requests_total counter",
    ]
    for field, count in sorted(requests.items()):
        route, method, status = field.decode().rsplit("|", 2)
        lines.append(
            f'http_requests_total{{route="{_escape(route)}",method="{method}",status="{status}"}} {int(count)}'
        )
    lines += [
        "# HELP http_request_duration_seconds HTTP request latency by route.",
        "# TYPE http_request_duration_seconds histogram",
    ]
    by_route: dict[str, dict[str, float]] = {}
    for field, value in latency.items():
        route, le = field.decode().rsplit("|", 1)
        by_route.setdefault(route, {})[le] = float(value)
    for route, values in sorted(by_route.items()):
        label = _escape(route)
        for bound in [*map(str, BUCKETS), "+Inf"]:
            lines.append(
                f'http_request_duration_seconds_bucket{{route="{label}",le="{bound}"}} {int(values.get(bound, 0))}'
            )
        lines.append(f'http_request_duration_seconds_sum{{route="{label}"}} {values.get("sum", 0.0):.6f}')
        lines.append(f'http_request_duration_seconds_count{{route="{label}"}} {int(values.get("+Inf", 0))}')
    by_name: dict[str, list[tuple[str, int]]] = {}
    for field, count in counters.items():
        name, labels = field.decode().split("|", 1)
        by_name.setdefault(name, []).append((labels, int(count)))
    for name, help_text in COUNTERS.items():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines += [f"{name}{{{labels}}} {count}" for labels, count in sorted(by_name.get(name, []))]
    lines += [
        "# HELP celery_queue_depth Messages waiting in a Celery queue.",
        "# TYPE celery_queue_depth gauge",
    ]
    for queue, depth in zip(settings.CELERY_QUEUES_REPORTED, depths, strict=True):
        lines.append(f'celery_queue_depth{{queue="{queue}"}} {int(depth)}')
    return "\n".join(lines) + "\n"
