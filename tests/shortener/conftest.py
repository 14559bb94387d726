"""Shortener test helpers: links through the real services, the click pipeline run inline."""

import pytest

from shortener.services.clicks import click_counts_flush, clicks_consume
from shortener.services.links import link_create, link_input_from


@pytest.fixture
def make_link():
    def make(owner=None, **data):
        data.setdefault("long_url", "https://example.com/some/long/path")
        return link_create(owner=owner, data=link_input_from(data))

    return make


@pytest.fixture
def admin_client(make_user):
    from django.test import Client

    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def drain_clicks():
    """Run the consumer until the stream is empty, then flush the counters (what beat does)."""

    def drain():
        result = clicks_consume(consumer="test-consumer")
        click_counts_flush()
        return result

    return drain


@pytest.fixture(autouse=True)
def fresh_block_list():
    """The admin block list is cached per process; each test starts from its own database."""
    from shortener.services.blocklist import block_list

    block_list.forget()
    yield
    block_list.forget()


@pytest.fixture
def redis_unreachable(settings):
    """Every Redis client of the project pointed at a port nobody listens on; restored afterwards."""
    from core import hotredis
    from core.redis import reset_clients

    def go_down():
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        reset_clients()
        hotredis.reset_connections()

    def come_back():
        settings.REDIS_URL = real_url
        reset_clients()
        hotredis.reset_connections()

    real_url = settings.REDIS_URL
    yield go_down, come_back
    come_back()
