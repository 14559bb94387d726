"""The rides app's Redis structures: key builders, TTLs and caps, and the only code that touches them.

One module per concern, every public name re-exported here (callers write ``store.driver_get``):

- ``positions``: online drivers' hashes, the GEO sets searched, last-seen scores, the location
  write and the service-areas version (``rides:driver:{id}``, ``rides:drivers:geo:{area}:{vehicle}``,
  ``rides:drivers:seen``, ``rides:drivers:seen:snapshot:{token}``, ``rides:areas:version``);
- ``history``: the stream of reported points on their way to PostgreSQL (``rides:locations:stream``);
- ``matching``: offer locks, the live-tracking throttle, batches of requests (``rides:offer:{driver}``,
  ``rides:location:sent:{ride}``, ``rides:batch:{area}:{vehicle}``, ``rides:batch:open:{area}:{vehicle}``);
- ``multipliers``: published surge (``rides:surge:{cell}``, ``rides:surge:cells``, ``rides:surge:updated_at``).
"""

from core.redis import get_redis
from rides.store.history import (
    LOCATION_CLAIM_IDLE_MS,
    LOCATION_GROUP,
    LOCATION_STREAM_KEY,
    LOCATION_STREAM_MAXLEN,
    history_ack,
    history_claim_stale,
    history_consumers_prune,
    history_length,
    history_read,
)
from rides.store.matching import (
    BATCH_TTL,
    batch_add,
    batch_key,
    batch_open_key,
    batch_take,
    location_publish_slot,
    location_sent_key,
    offer_finish,
    offer_lock_acquire,
    offer_lock_holder,
    offer_lock_key,
    offer_lock_release,
)
from rides.store.multipliers import (
    SURGE_CELLS_KEY,
    SURGE_TTL,
    SURGE_UPDATED_KEY,
    surge_cells,
    surge_get,
    surge_key,
    surge_publish,
    surge_updated_at,
)
from rides.store.positions import (
    AREAS_VERSION_KEY,
    DRIVER_PREFIX,
    GEO_PREFIX,
    SEARCH_FIRST_RADIUS_M,
    SEEN_KEY,
    DriverState,
    DriverWrite,
    GeoHit,
    Located,
    LocationWrite,
    adriver_locate,
    ageo_search_free,
    areas_version,
    areas_version_bump,
    driver_get,
    driver_key,
    driver_locate,
    driver_put,
    driver_remove,
    driver_remove_if_stale,
    driver_set_state,
    drivers_last_seen,
    drivers_positions,
    drivers_put,
    drivers_seen_before,
    drivers_seen_since,
    drivers_state,
    geo_key,
    geo_search,
    geo_search_free,
    positions_in_state_since,
    seen_snapshot_key,
)

__all__ = [
    "AREAS_VERSION_KEY", "LOCATION_CLAIM_IDLE_MS", "LOCATION_GROUP", "LOCATION_STREAM_KEY", "LOCATION_STREAM_MAXLEN", "Located",
    "LocationWrite", "adriver_locate", "ageo_search_free", "areas_version", "areas_version_bump", "driver_locate", "history_ack",
    "history_claim_stale", "history_consumers_prune", "history_length", "history_read",
    "BATCH_TTL", "DRIVER_PREFIX", "GEO_PREFIX", "SEARCH_FIRST_RADIUS_M", "SEEN_KEY",
    "SURGE_CELLS_KEY", "SURGE_TTL", "SURGE_UPDATED_KEY", "DriverState", "DriverWrite", "GeoHit", "batch_add",
    "batch_key", "batch_open_key", "batch_take", "driver_get", "driver_key", "driver_put", "driver_remove",
    "driver_remove_if_stale", "driver_set_state", "drivers_last_seen", "drivers_positions", "drivers_put",
    "drivers_seen_before", "drivers_seen_since", "drivers_state", "geo_key", "geo_search", "geo_search_free",
    "get_redis", "location_publish_slot", "positions_in_state_since", "seen_snapshot_key", "location_sent_key", "offer_finish", "offer_lock_acquire",
    "offer_lock_holder", "offer_lock_key", "offer_lock_release", "surge_cells", "surge_get", "surge_key",
    "surge_publish", "surge_updated_at",
]
