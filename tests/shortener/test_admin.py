"""Django admin: links (search, filters, actions through the services), block list, read-only clicks."""

import pytest
from django.conf import settings

from shortener import store
from shortener.models import BlockedHost, Link, LinkState

pytestmark = pytest.mark.django_db


def test_link_changelist_searches_and_filters(admin_client, make_link):
    make_link(custom_alias="needle-link")
    make_link(custom_alias="other-link")
    response = admin_client.get("/admin/shortener/link/?q=needle&state__exact=active")
    assert response.status_code == 200
    assert b"needle-link" in response.content
    assert b"other-link" not in response.content


def test_soft_delete_action_goes_through_the_service(admin_client, make_link, client):
    link = make_link(custom_alias="to-delete")
    assert client.get("/to-delete").status_code == 302  # cached
    response = admin_client.post("/admin/shortener/link/", {"action": "soft_delete", "_selected_action": [link.pk]})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.state == LinkState.DELETED
    assert store.cache_get("to-delete") is None
    assert client.get("/to-delete").status_code == 410


def test_expire_action_makes_the_link_410(admin_client, make_link, client):
    link = make_link(custom_alias="to-expire")
    admin_client.post("/admin/shortener/link/", {"action": "expire_now", "_selected_action": [link.pk]})
    assert Link.objects.get(pk=link.pk).state == LinkState.EXPIRED
    assert client.get("/to-expire").status_code == 410


def test_block_list_entry_added_in_the_admin_blocks_shortening(admin_client, api_client):
    response = admin_client.post("/admin/shortener/blockedhost/add/", {"host": "Phish.Example", "reason": "phishing"})
    assert response.status_code == 302
    assert BlockedHost.objects.get().host == "phish.example"
    blocked = api_client.post("/api/v1/shorten", {"long_url": "https://login.phish.example/"}, format="json")
    assert blocked.status_code == 400
    assert blocked.json()["code"] == "blocked_host"


def test_clicks_are_read_only_in_the_admin(admin_client):
    assert admin_client.get("/admin/shortener/click/").status_code == 200
    assert admin_client.get("/admin/shortener/click/add/").status_code == 403


def test_periodic_tasks_are_scheduled():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"shortener.consume_clicks", "shortener.flush_click_counts", "shortener.expire_links",
            "shortener.ensure_click_partitions"} <= tasks
