"""Periodic work of the shortener; each task only calls a service and is safe to repeat."""

from celery import shared_task

from shortener.services import clicks, links, partitions


@shared_task(name="shortener.consume_clicks", ignore_result=True)
def consume_clicks() -> int:
    return clicks.clicks_consume().inserted


@shared_task(name="shortener.flush_click_counts", ignore_result=True)
def flush_click_counts() -> int:
    return clicks.click_counts_flush()


@shared_task(name="shortener.expire_links", ignore_result=True)
def expire_links() -> int:
    return links.links_expire_due()


@shared_task(name="shortener.ensure_click_partitions", ignore_result=True)
def ensure_click_partitions() -> list[str]:
    return partitions.click_partitions_ensure()
