"""Monthly partitions of the click table on PostgreSQL (created ahead by a beat task)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.utils import DatabaseError

from shortener.models import Click

MONTHS_AHEAD = 3


def _month_start(year: int, month: int) -> datetime:
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=UTC)


def click_partitions_ensure(*, now: datetime | None = None, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """Create the partitions for this month and the next ``months_ahead``; returns the ones created.

    A no-op on databases without partitioning. Rows landing in the default partition (a month
    nobody created in time) keep working; that month's partition is then skipped, not forced.
    """
    if connection.vendor != "postgresql":
        return []
    now = now or datetime.now(tz=UTC)
    table = Click._meta.db_table
    created = []
    for offset in range(months_ahead + 1):
        start = _month_start(now.year, now.month + offset)
        end = _month_start(now.year, now.month + offset + 1)
        name = f"{table}_{start:%Y%m}"
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [name])
            if cursor.fetchone()[0] is not None:
                continue
            try:
                with transaction.atomic():
                    # DDL takes no bind parameters; every part here is built from constants and dates.
                    cursor.execute(
                        f"CREATE TABLE {name} PARTITION OF {table} "  # noqa: S608
                        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                    )
            except DatabaseError:
                continue  # rows for that month already sit in the default partition
        created.append(name)
    return created
