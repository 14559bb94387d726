from django.apps import AppConfig
from django.conf import settings


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        settings.CELERY_BEAT_SCHEDULE["chat-flush-receipts"] = {"task": "chat.flush_receipts", "schedule": 5.0}
        # A safety net: each send enqueues a drain, this picks up anything a lost task left behind.
        settings.CELERY_BEAT_SCHEDULE["chat-deliver-notifications"] = {
            "task": "chat.deliver_notifications", "schedule": 30.0,
        }
