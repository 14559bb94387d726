"""The expiry beat task, monthly click partitions, the consumer command."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from shortener import selectors, store, tasks
from shortener.models import Link, LinkState

pytestmark = pytest.mark.django_db


def test_expire_task_marks_due_links_and_purges_their_cache(make_link, client):
    due = make_link()
    later = make_link()
    for link in (due, later):
        selectors.link_for_redirect(link.short_code)
    Link.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert tasks.expire_links.delay() is not None
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.state, later.state) == (LinkState.EXPIRED, LinkState.ACTIVE)
    assert store.cache_get(due.short_code) is None
    assert store.cache_get(later.short_code) is not None
    assert client.get(f"/{due.short_code}").status_code == 410


def test_expired_links_show_expired_in_the_api(auth_client, make_link):
    link = make_link(owner=auth_client.user)
    Link.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert auth_client.get(f"/api/v1/links/{link.short_code}").json()["state"] == "expired"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning exists on PostgreSQL only")
def test_click_table_is_partitioned_by_month_with_partitions_ahead():
    from shortener.services.partitions import click_partitions_ensure

    far = timezone.now() + timedelta(days=400)
    created = click_partitions_ensure(now=far, months_ahead=1)
    assert len(created) == 2
    assert click_partitions_ensure(now=far, months_ahead=1) == []
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'shortener_click'")
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'shortener_click'::regclass")
        assert cursor.fetchone()[0] >= 3


def test_partitions_are_a_no_op_elsewhere():
    from shortener.services.partitions import click_partitions_ensure

    if connection.vendor == "postgresql":
        pytest.skip("covered by the PostgreSQL test")
    assert click_partitions_ensure() == []


def test_consume_command_prints_progress(make_link):
    link = make_link()
    store.click_record(link.short_code, referrer="", ip="1.2.3.4", user_agent="Mozilla/5.0", method="GET", count=True)
    out = StringIO()
    call_command("consume_clicks", "--seconds", "0.5", stdout=out)
    assert "inserted 1" in out.getvalue()
    link.refresh_from_db()
    assert link.click_count == 1


@pytest.mark.parametrize("field", ["expires_in_days", "expires_at"])
def test_extending_an_old_link_counts_from_the_edit(auth_client, make_link, client, field):
    link = make_link(owner=auth_client.user, expires_in_days=30)
    long_ago = timezone.now() - timedelta(days=100)
    Link.objects.filter(pk=link.pk).update(created_at=long_ago, expires_at=long_ago + timedelta(days=30),
                                           state=LinkState.EXPIRED)
    store.cache_invalidate(link.short_code)
    assert client.get(f"/{link.short_code}").status_code == 410

    before = timezone.now()
    if field == "expires_in_days":
        payload = {"expires_in_days": 10}
    else:
        payload = {"expires_at": (before + timedelta(days=10)).isoformat()}
    body = auth_client.patch(f"/api/v1/links/{link.short_code}", payload, format="json").json()

    link.refresh_from_db()
    assert body["state"] == "active"
    assert before + timedelta(days=10) - timedelta(seconds=5) <= link.expires_at <= timezone.now() + timedelta(days=10)
    assert client.get(f"/{link.short_code}").status_code == 302
    # Still reachable nine days on, gone after the tenth.
    assert selectors.link_state(link, now=before + timedelta(days=9, hours=23)) == LinkState.ACTIVE
    assert selectors.link_state(link, now=before + timedelta(days=10, minutes=1)) == LinkState.EXPIRED
