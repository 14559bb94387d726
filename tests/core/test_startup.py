"""Serving processes freeze what they have loaded before they take work."""

import gc

import pytest

from core import startup


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_celery_pool_process_runs_the_apps_warmups_then_freezes_what_it_loaded(unfrozen, monkeypatch):
    loaded = []
    monkeypatch.setattr(startup, "_task_worker_warmups", [])

    @startup.task_worker_warmup
    def load_rules():
        loaded.append(gc.get_freeze_count())  # before the freeze

    startup.task_worker_ready(sender=None)

    assert loaded == [0]
    assert gc.get_freeze_count() > 10_000


def test_the_worker_hook_is_connected_to_celerys_pool_process_start():
    from celery.signals import worker_process_init

    assert startup.task_worker_ready in [receiver for _, receiver in worker_process_init.receivers]  # held strongly


def test_the_click_consumer_loads_its_country_database_and_agent_rules_before_taking_work():
    from shortener import enrichment

    assert enrichment.preload in startup._task_worker_warmups
    enrichment.preload()
    assert enrichment._geo is not None
