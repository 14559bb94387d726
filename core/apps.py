from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"

    def ready(self) -> None:
        import core.sessions  # noqa: F401 - connects the receivers that end sockets with their session
        from core.channels_adapter import check_channels_redis_version

        # Fails start-up (web, workers, manage.py) rather than publishing through internals
        # of a channels-redis version the adapter was not written against.
        check_channels_redis_version()

        from celery.signals import worker_process_init

        from core.startup import task_worker_ready

        worker_process_init.connect(task_worker_ready, weak=False, dispatch_uid="core.startup.task_worker_ready")
