"""Celery tasks of the feed: thin, idempotent wrappers around services."""

from celery import shared_task

from feed.services import counters, fanout, media


@shared_task(name="feed.fanout_status", ignore_result=True)
def fanout_status(status_id: int) -> int:
    return fanout.status_fanout(status_id=status_id)


@shared_task(name="feed.remove_statuses", ignore_result=True)
def remove_statuses(status_ids: list[int], author_id: int) -> None:
    fanout.status_remove_everywhere(status_ids=status_ids, author_id=author_id)


@shared_task(name="feed.merge_author", ignore_result=True)
def merge_author(reader_id: int, author_id: int) -> None:
    fanout.home_merge_author(reader_id=reader_id, author_id=author_id)


@shared_task(name="feed.unmerge_author", ignore_result=True)
def unmerge_author(reader_id: int, author_id: int) -> None:
    fanout.home_unmerge_author(reader_id=reader_id, author_id=author_id)


@shared_task(name="feed.rebuild_home", ignore_result=True)
def rebuild_home(reader_id: int) -> int:
    return fanout.home_rebuild(reader_id=reader_id)


@shared_task(name="feed.sync_celebrity", ignore_result=True)
def sync_celebrity(author_id: int) -> bool | None:
    return fanout.author_celebrity_sync(author_id=author_id)


@shared_task(name="feed.flush_counters", ignore_result=True)
def flush_counters() -> int:
    return counters.counters_flush()


@shared_task(name="feed.process_media", ignore_result=True)
def process_media(media_id: int) -> bool:
    return media.media_process(media_id=media_id)


@shared_task(name="feed.announce_status_update", ignore_result=True)
def announce_status_update(status_id: int) -> None:
    fanout.status_announce_update(status_id=status_id)
