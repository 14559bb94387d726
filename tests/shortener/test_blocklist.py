"""The admin block list: edits through the service reach every process within a second."""

import time

import pytest

from core.errors import FieldError
from shortener import store
from shortener.models import BlockedHost
from shortener.services import blocklist

pytestmark = pytest.mark.django_db


def _wait_until(condition, limit: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit, "not seen in time"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_new_block_reaches_two_processes_within_a_second():
    first, second = blocklist.BlockList(), blocklist.BlockList()
    assert first.hosts() == second.hosts() == frozenset()
    blocklist.blocked_host_save(host="Phish.Example.", reason="phishing")
    assert _wait_until(lambda: "phish.example" in first.hosts() and "phish.example" in second.hosts(), 1.0) < 1.0


def test_a_removed_block_is_lifted_in_every_process_within_a_second():
    entry = blocklist.blocked_host_save(host="gone.example")
    first, second = blocklist.BlockList(), blocklist.BlockList()
    assert "gone.example" in first.hosts() and "gone.example" in second.hosts()
    assert blocklist.blocked_hosts_remove(blocked_hosts=[entry]) == 1
    _wait_until(lambda: not first.hosts() and not second.hosts(), 1.0)


def test_the_list_is_not_reloaded_while_its_version_is_unchanged(django_assert_num_queries, monkeypatch):
    blocklist.blocked_host_save(host="steady.example")
    copy = blocklist.BlockList()
    with django_assert_num_queries(1):
        copy.hosts()
    version_reads = []
    real_version = store.blocked_hosts_version
    monkeypatch.setattr(store, "blocked_hosts_version", lambda: version_reads.append(1) or real_version())
    with django_assert_num_queries(0):
        for _ in range(100):
            assert copy.hosts() == {"steady.example"}  # within the interval: not even Redis is asked
        assert version_reads == []
        time.sleep(blocklist.CHECK_INTERVAL)
        assert copy.hosts() == {"steady.example"}  # version asked, unchanged: no reload
    assert version_reads == [1]


def test_with_redis_unreachable_the_list_comes_from_the_database(monkeypatch):
    import redis

    blocklist.blocked_host_save(host="still.example")

    def unreachable():
        raise redis.ConnectionError("down")

    monkeypatch.setattr(store, "blocked_hosts_version", unreachable)
    assert blocklist.BlockList().hosts() == {"still.example"}


@pytest.mark.parametrize("host", ["", "   ", "...", "a b.example", "https://x.example/", "user@x.example"])
def test_malformed_hosts_are_rejected_naming_the_field(host):
    with pytest.raises(FieldError) as error:
        blocklist.blocked_host_save(host=host)
    assert "host" in error.value.extra["fields"]
    assert not BlockedHost.objects.exists()


def test_a_duplicate_host_is_a_field_error():
    blocklist.blocked_host_save(host="twice.example")
    with pytest.raises(FieldError) as error:
        blocklist.blocked_host_save(host="TWICE.example")
    assert error.value.code == "duplicate" and "host" in error.value.extra["fields"]


def test_admin_edits_go_through_the_service_and_bump_the_version(admin_client, api_client):
    before = store.blocked_hosts_version()
    response = admin_client.post("/admin/shortener/blockedhost/add/", {"host": "Evil.Example", "reason": "x"})
    assert response.status_code == 302
    entry = BlockedHost.objects.get()
    assert entry.host == "evil.example"
    assert store.blocked_hosts_version() > before
    blocked = api_client.post("/api/v1/shorten", {"long_url": "https://www.evil.example/"}, format="json")
    assert blocked.status_code == 400 and blocked.json()["code"] == "blocked_host"

    duplicate = admin_client.post("/admin/shortener/blockedhost/add/", {"host": "EVIL.example.", "reason": ""})
    assert duplicate.status_code == 200 and BlockedHost.objects.count() == 1  # a form error, not a 500

    bumped = store.blocked_hosts_version()
    response = admin_client.post(f"/admin/shortener/blockedhost/{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not BlockedHost.objects.exists()
    assert store.blocked_hosts_version() > bumped
    blocklist.block_list.forget()  # this test's process: skip the interval wait
    assert api_client.post("/api/v1/shorten", {"long_url": "https://www.evil.example/"},
                           format="json").status_code == 201


def test_admin_bulk_delete_goes_through_the_service(admin_client):
    entries = [blocklist.blocked_host_save(host=f"bulk{i}.example") for i in range(3)]
    before = store.blocked_hosts_version()
    response = admin_client.post("/admin/shortener/blockedhost/", {
        "action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"})
    assert response.status_code == 302
    assert not BlockedHost.objects.exists()
    assert store.blocked_hosts_version() > before
