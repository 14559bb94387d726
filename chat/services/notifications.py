"""Push notifications for members who had no open socket, through a pluggable backend.

``settings.CHAT_PUSH_BACKEND`` names a class with ``send(items: list[PushItem])``;
the default records Notification rows (the web UI's badge).
"""

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.module_loading import import_string

from chat.models import Notification, NotificationOutbox

User = get_user_model()

DEFAULT_BACKEND = "chat.services.notifications.RecordingPushBackend"
DRAIN_BATCH = 500
PREVIEW_LENGTH = 140


@dataclass(frozen=True)
class PushItem:
    user_id: int
    conversation_id: int
    message_id: int
    sender: str
    preview: str


class RecordingPushBackend:
    """Records each push as a Notification row; idempotent per (user, message)."""

    def send(self, items: list[PushItem]) -> None:
        Notification.objects.bulk_create(
            [Notification(user_id=i.user_id, conversation_id=i.conversation_id, message_id=i.message_id,
                          preview=i.preview) for i in items],
            ignore_conflicts=True,
        )


def push_backend():
    return import_string(getattr(settings, "CHAT_PUSH_BACKEND", DEFAULT_BACKEND))()


def _preview(sender: str, content: str, deleted: bool) -> str:
    text = "(deleted)" if deleted else (content.strip() or "(attachment)")
    line = f"{sender}: {text}"
    return line if len(line) <= PREVIEW_LENGTH else line[: PREVIEW_LENGTH - 1] + "…"


def outbox_drain(*, batch: int = DRAIN_BATCH) -> int:
    """Hand pending outbox rows to the push backend and delete them; returns how many.

    Rows are locked with SKIP LOCKED on PostgreSQL so concurrent workers split the work;
    a backend error rolls the batch back for a retry.
    """
    backend = push_backend()
    total = 0
    while True:
        with transaction.atomic():
            rows = list(
                NotificationOutbox.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("message", "message__sender")
                .order_by("id")[:batch]
            )
            if not rows:
                return total
            backend.send([
                PushItem(user_id=r.user_id, conversation_id=r.message.conversation_id, message_id=r.message_id,
                         sender=r.message.sender.username,
                         preview=_preview(r.message.sender.username, r.message.content, r.message.deleted))
                for r in rows
            ])
            NotificationOutbox.objects.filter(id__in=[r.id for r in rows]).delete()
        total += len(rows)
        if len(rows) < batch:
            return total


def notifications_mark_read(*, user: User) -> int:
    return Notification.objects.filter(user=user, read=False).update(read=True)
