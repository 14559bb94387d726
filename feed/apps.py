from django.apps import AppConfig
from django.conf import settings


class FeedConfig(AppConfig):
    name = "feed"

    def ready(self) -> None:
        from core.services import register_account_listener
        from core.tokens import register_token_source
        from feed.oauth import oauth_token_source
        from feed.services.statuses import account_edited

        register_token_source(oauth_token_source)
        register_account_listener(account_edited)
        settings.CELERY_BEAT_SCHEDULE["feed-flush-counters"] = {"task": "feed.flush_counters", "schedule": 10.0}
