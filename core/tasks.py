"""Enqueuing Celery tasks after the write that needs them has committed.

``enqueue_on_commit(task, *args, app=..., **kwargs)`` is the one way services enqueue: the task is
sent once the current transaction commits (at once outside one), so a rolled-back write never
starts work. Sending is best effort for the caller: when the broker cannot be reached (Redis down
or stalled) the failure is logged and counted as ``task_enqueue_failures_total{app, task}`` in
/metrics, and the committed write still answers as a success. Tasks enqueued this way must be
repaired by a periodic job (an outbox drained by beat) or be optional (a thumbnail).
"""

import logging

from django.db import transaction

from core.metrics import recorder

logger = logging.getLogger(__name__)

ENQUEUE_FAILURES = "task_enqueue_failures_total"


def enqueue_now(task, *args, app: str, **kwargs) -> bool:
    """``task.delay(*args, **kwargs)``; False (logged, counted) when it could not be sent."""
    try:
        task.delay(*args, **kwargs)
    except Exception:  # noqa: BLE001 - best effort by contract, see the module docstring
        logger.exception("enqueuing %s for %s failed", task.name, app)
        recorder.count(ENQUEUE_FAILURES, app=app, task=task.name)
        return False
    return True


def enqueue_on_commit(task, *args, app: str, **kwargs) -> None:
    """Send ``task`` once the current transaction commits; never raises, never fails the commit."""
    transaction.on_commit(lambda: enqueue_now(task, *args, app=app, **kwargs), robust=True)
