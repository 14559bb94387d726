"""The location history: every point drivers report, from the history stream into PostgreSQL in batches.

The location write (``services.drivers``) appends each write's points to a Redis Stream in the same
step that moves the driver; this consumer (Celery, every second) stores them as ``DriverLocation``
rows. Entries are acknowledged only after their rows commit; a consumer that dies before that
leaves them pending, and the next one claims them. Storing a batch twice adds nothing (one row per
driver, time and place in the batch).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from django.db import transaction

from core.errors import ApplicationError
from core.parsers import loads
from rides import store
from rides.models import DriverLocation
from rides.services.drivers import parse_points

logger = logging.getLogger(__name__)

# Stream entries per read; each holds up to 50 points.
BATCH_SIZE = 500
# Consumer names are per process: those idle this long with nothing pending belong to processes gone.
CONSUMER_PRUNE_IDLE_MS = 3_600_000


def consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _rows(entry_id: str, fields: dict[str, str]) -> list[DriverLocation]:
    """The points of one entry, read back with the rule that accepted them (at the write's own time)."""
    try:
        driver_id, now = int(fields["d"]), float(fields["t"])
        points = parse_points(loads(fields["p"]), now)
    except (KeyError, ValueError, ApplicationError):
        logger.warning("location history entry %s is unreadable; dropped", entry_id)
        return []
    return [DriverLocation(driver_id=driver_id, recorded_at=datetime.fromtimestamp(point["ts"], tz=UTC), seq=seq,
                           lat=point["lat"], lng=point["lng"], heading=point["heading"], speed=point["speed"])
            for seq, point in enumerate(points)]


def history_store(entries: list[tuple[str, dict[str, str]]]) -> int:
    """Store the points of history entries in one transaction; returns how many points were read."""
    rows = [row for entry_id, fields in entries for row in _rows(entry_id, fields)]
    with transaction.atomic():
        DriverLocation.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def location_history_drain(*, consumer: str | None = None, batch_size: int = BATCH_SIZE, max_batches: int = 20,
                           claim_idle_ms: int = store.LOCATION_CLAIM_IDLE_MS) -> int:
    """Store what the history stream holds: first entries another consumer read and left unacknowledged
    for ``claim_idle_ms`` (it died), then new ones (at most ``max_batches`` reads of ``batch_size``).
    Returns how many points were stored."""
    consumer = consumer or consumer_name()
    stored = 0
    store.history_consumers_prune(CONSUMER_PRUNE_IDLE_MS)
    while stale := store.history_claim_stale(consumer, batch_size, claim_idle_ms):
        stored += _process(stale)
        if len(stale) < batch_size:
            break
    for _ in range(max_batches):
        entries = store.history_read(consumer, batch_size)
        if not entries:
            break
        stored += _process(entries)
        if len(entries) < batch_size:
            break
    return stored


def _process(entries: list[tuple[str, dict[str, str]]]) -> int:
    stored = history_store(entries)
    store.history_ack([entry_id for entry_id, _ in entries])
    return stored
