"""Published surge: one hash per surging H3 cell, the set of those cells, the last recompute.

- ``rides:surge:{cell}``: hash ``multiplier``/``updated_at`` of an H3 cell with surge above 1.0;
  ``rides:surge:cells`` lists those cells and ``rides:surge:updated_at`` the last recompute.
"""

from core.redis import get_redis

SURGE_CELLS_KEY = "rides:surge:cells"
SURGE_UPDATED_KEY = "rides:surge:updated_at"
# A published surge outlives a few missed recomputes, then falls back to 1.0 by itself.
SURGE_TTL = 600


def surge_key(cell: str) -> str:
    return f"rides:surge:{cell}"


def _text(value) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def surge_get(cell: str) -> tuple[float, float | None]:
    """(multiplier, updated_at epoch) of a cell; 1.0 when none is published."""
    multiplier, updated = get_redis().hmget(surge_key(cell), "multiplier", "updated_at")
    if multiplier is None:
        return 1.0, None
    return float(multiplier), float(updated)


def surge_cells() -> dict[str, float]:
    """Cells with a published surge → their multiplier."""
    cells = [_text(c) for c in get_redis().smembers(SURGE_CELLS_KEY)]
    pipe = get_redis().pipeline(transaction=False)
    for cell in cells:
        pipe.hget(surge_key(cell), "multiplier")
    return {cell: float(m) for cell, m in zip(cells, pipe.execute(), strict=True) if m is not None}


def surge_publish(multipliers: dict[str, float], *, now: float) -> None:
    """Replace the published surge: cells above 1.0 get a hash, the others lose theirs."""
    client = get_redis()
    previous = {_text(c) for c in client.smembers(SURGE_CELLS_KEY)}
    pipe = client.pipeline(transaction=True)
    for cell in previous - {c for c, m in multipliers.items() if m > 1.0}:
        pipe.delete(surge_key(cell))
        pipe.srem(SURGE_CELLS_KEY, cell)
    for cell, multiplier in multipliers.items():
        if multiplier > 1.0:
            pipe.hset(surge_key(cell), mapping={"multiplier": multiplier, "updated_at": now})
            pipe.expire(surge_key(cell), SURGE_TTL)
            pipe.sadd(SURGE_CELLS_KEY, cell)
    pipe.expire(SURGE_CELLS_KEY, SURGE_TTL)
    pipe.set(SURGE_UPDATED_KEY, now, ex=SURGE_TTL)
    pipe.execute()


def surge_updated_at() -> float | None:
    value = get_redis().get(SURGE_UPDATED_KEY)
    return float(value) if value else None
