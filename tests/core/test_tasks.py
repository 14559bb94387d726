"""Enqueuing Celery tasks after commit: a broker that is down never fails a committed write."""

import re

import pytest
from django.db import transaction

from chat.models import Message, NotificationOutbox
from chat.services.conversations import conversation_create
from config.celery import app as celery_app
from core.metrics import recorder, render
from core.tasks import enqueue_now, enqueue_on_commit

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue_failures(app: str, task: str) -> int:
    recorder.flush()
    pattern = rf'^task_enqueue_failures_total{{app="{app}",task="{re.escape(task)}"}} (\d+)$'
    match = re.search(pattern, render(), re.MULTILINE)
    return int(match.group(1)) if match else 0


def _forget_broker_connections():
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down():
    """Tasks really sent (not run inline) to a broker address nobody listens on."""
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    _forget_broker_connections()
    yield
    celery_app.conf.update(saved)
    _forget_broker_connections()


@celery_app.task(name="tests.core.record_run")
def record_run(value):
    runs.append(value)


runs: list = []


def test_a_task_is_sent_after_the_commit_and_never_for_a_rolled_back_write():
    runs.clear()
    with transaction.atomic():
        enqueue_on_commit(record_run, "committed", app="test")
        assert runs == []  # not before the commit
    try:
        with transaction.atomic():
            enqueue_on_commit(record_run, "rolled back", app="test")
            raise RuntimeError("the write failed")
    except RuntimeError:
        pass
    assert runs == ["committed"]  # eager in tests: sent means run


def test_a_broker_that_is_down_is_logged_and_counted_never_raised(broker_down, caplog):
    before = enqueue_failures("test", record_run.name)

    with transaction.atomic():
        enqueue_on_commit(record_run, "lost", app="test")
    assert enqueue_now(record_run, "lost too", app="test") is False

    assert enqueue_failures("test", record_run.name) == before + 2
    assert "enqueuing tests.core.record_run for test failed" in caplog.text


def test_a_chat_send_to_an_offline_member_succeeds_with_the_broker_down(broker_down, make_user, client_for):
    alice = make_user("alice")
    make_user("bob")  # no socket: his notification goes through the outbox and a task
    direct, _ = conversation_create(creator=alice, usernames=["bob"])
    before = enqueue_failures("chat", "chat.deliver_notifications")

    response = client_for(alice).post(f"/api/v1/chat/conversations/{direct.id}/messages",
                                      {"content": "stored anyway", "client_id": "c1"}, format="json")

    assert response.status_code == 201, response.content
    assert list(Message.objects.filter(conversation=direct).values_list("content", flat=True)) == ["stored anyway"]
    assert NotificationOutbox.objects.count() == 1  # left for the periodic drain
    assert enqueue_failures("chat", "chat.deliver_notifications") == before + 1
