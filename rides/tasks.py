"""Celery tasks of the rides app: thin, idempotent wrappers around services."""

from celery import shared_task

from rides.services.batching import rides_dispatch_batch
from rides.services.dispatch import offer_expire, offers_expire_due, ride_dispatch, rides_dispatch_stalled
from rides.services.drivers import drivers_sweep_stale
from rides.services.history import location_history_drain
from rides.services.pricing import quotes_purge_expired
from rides.services.surge import surge_recompute


@shared_task(name="rides.dispatch", ignore_result=True)
def dispatch_ride(ride_id: int) -> str | None:
    return ride_dispatch(ride_id=ride_id)


@shared_task(name="rides.dispatch_batch", ignore_result=True)
def dispatch_batch(area: str, vehicle_type: str) -> int:
    return len(rides_dispatch_batch(area=area, vehicle_type=vehicle_type).batched)


@shared_task(name="rides.offer_timeout", ignore_result=True)
def offer_timeout(ride_id: int, offer_round: int) -> bool:
    return offer_expire(ride_id=ride_id, offer_round=offer_round)


@shared_task(name="rides.expire_offers", ignore_result=True)
def expire_offers() -> int:
    return offers_expire_due()


@shared_task(name="rides.dispatch_stalled", ignore_result=True)
def dispatch_stalled() -> int:
    return rides_dispatch_stalled()


@shared_task(name="rides.sweep_stale_drivers", ignore_result=True)
def sweep_stale_drivers() -> int:
    return drivers_sweep_stale()


@shared_task(name="rides.recompute_surge", ignore_result=True)
def recompute_surge() -> int:
    return len(surge_recompute())


@shared_task(name="rides.purge_quotes", ignore_result=True)
def purge_quotes() -> int:
    return quotes_purge_expired()


@shared_task(name="rides.drain_location_history", ignore_result=True)
def drain_location_history() -> int:
    return location_history_drain()
