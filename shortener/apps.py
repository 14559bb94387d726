from django.apps import AppConfig
from django.conf import settings


class ShortenerConfig(AppConfig):
    name = "shortener"

    def ready(self) -> None:
        schedule = settings.CELERY_BEAT_SCHEDULE
        # Clicks reach the database about a second after the redirect.
        schedule["shortener-consume-clicks"] = {"task": "shortener.consume_clicks", "schedule": 1.0}
        schedule["shortener-flush-click-counts"] = {"task": "shortener.flush_click_counts", "schedule": 5.0}
        schedule["shortener-expire-links"] = {"task": "shortener.expire_links", "schedule": 60.0}
        schedule["shortener-click-partitions"] = {"task": "shortener.ensure_click_partitions", "schedule": 6 * 3600.0}

        from core.startup import task_worker_warmup
        from shortener.enrichment import preload

        task_worker_warmup(preload)  # the click consumer's country database and user-agent rules
