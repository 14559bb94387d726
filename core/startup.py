"""What a serving process does once it has loaded its code, before it takes work.

Web workers (at the ASGI lifespan startup, ``core.asgi``) and Celery's pool processes (at
``worker_process_init``, connected in ``core.apps``) freeze what they have loaded out of the
cyclic collector's full collections: Django, the apps and their data are ~160k objects that live
as long as the process, and a full collection (every few tens of thousands of requests or clicks)
walked every one of them, ~80-150 ms at a time. Frozen, it walks only what the work left behind.
Apps register what a task worker should load before that (``task_worker_warmup``).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

_task_worker_warmups: list[Callable[[], None]] = []


def task_worker_warmup(func: Callable[[], None]) -> Callable[[], None]:
    """Have Celery's pool processes call ``func`` before they take work (usable as a decorator)."""
    if func not in _task_worker_warmups:
        _task_worker_warmups.append(func)
    return func


def freeze_loaded_objects() -> None:
    """Collect once, then move every object the process holds out of the collector's reach."""
    gc.collect()
    gc.freeze()


def task_worker_ready(**_signal_kwargs) -> None:
    """A Celery pool process has started: load what the apps asked for, then freeze it all."""
    for warmup in _task_worker_warmups:
        warmup()
    freeze_loaded_objects()
