from django.apps import AppConfig
from django.conf import settings


class FeedConfig(AppConfig):
    name = "feed"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["feed-flush-counters"] = {"task": "feed.flush_counters", "schedule": 10.0}
