"""Run in a spawned process: set Django up the way the test run is, then draw ids."""

import os


def ids_from_this_process(count: int) -> list[int]:
    # Same settings as the parent test process (its Redis test database, no WORKER_ID).
    os.environ["DJANGO_TESTING"] = "1"
    os.environ.pop("WORKER_ID", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from core.snowflake import next_id

    return [next_id() for _ in range(count)]
