from django.apps import AppConfig
from django.conf import settings


class RidesConfig(AppConfig):
    name = "rides"

    def ready(self) -> None:
        schedule = settings.CELERY_BEAT_SCHEDULE
        # Behind each offer's own delayed task: an offer whose task was lost still expires.
        schedule["rides-expire-offers"] = {"task": "rides.expire_offers", "schedule": 5.0}
        schedule["rides-dispatch-stalled"] = {"task": "rides.dispatch_stalled", "schedule": 5.0}
        # Every point drivers report, from the history stream into the database.
        schedule["rides-drain-location-history"] = {"task": "rides.drain_location_history", "schedule": 1.0}
        schedule["rides-sweep-stale-drivers"] = {"task": "rides.sweep_stale_drivers", "schedule": 30.0}
        schedule["rides-purge-quotes"] = {"task": "rides.purge_quotes", "schedule": 3600.0}
        schedule["rides-recompute-surge"] = {"task": "rides.recompute_surge",
                                             "schedule": settings.SURGE_INTERVAL_SECONDS}
