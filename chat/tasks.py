"""Celery tasks of the chat: thin, idempotent wrappers around services."""

from celery import shared_task

from chat.services.notifications import outbox_drain
from chat.services.receipts import receipts_flush


@shared_task(name="chat.flush_receipts", ignore_result=True)
def flush_receipts() -> int:
    return receipts_flush()


@shared_task(name="chat.deliver_notifications", ignore_result=True)
def deliver_notifications() -> int:
    return outbox_drain()
