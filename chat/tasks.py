"""Celery tasks of the chat: thin, idempotent wrappers around services."""

from celery import shared_task

from chat.services.attachments import attachment_thumbnail_make
from chat.services.notifications import outbox_drain
from chat.services.receipts import receipts_flush


@shared_task(name="chat.flush_receipts", ignore_result=True)
def flush_receipts() -> int:
    return receipts_flush()


@shared_task(name="chat.deliver_notifications", ignore_result=True)
def deliver_notifications() -> int:
    return outbox_drain()


@shared_task(name="chat.make_attachment_thumbnail", ignore_result=True)
def make_attachment_thumbnail(attachment_id: int) -> bool:
    # Decoding an image takes memory in proportion to its pixels: a worker's, not a web process's.
    return attachment_thumbnail_make(attachment_id=attachment_id)
