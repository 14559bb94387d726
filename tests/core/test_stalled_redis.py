"""A Redis that stalls (accepts connections, never answers) makes Django's side answer a quick 503."""

import socket
import threading
import time

import pytest
from django.test import Client

from core.redis import reset_clients

OUTAGE_BODY = {"error": "A service this site depends on is unavailable; please try again shortly.",
               "code": "service_unavailable"}


class StalledRedis:
    """A TCP server that accepts every connection and never sends a byte."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def stalled_redis(settings):
    server = StalledRedis()
    real_url, real_caches = settings.REDIS_URL, settings.CACHES

    def stall():
        settings.REDIS_URL = server.url
        settings.CACHES = {**real_caches, "default": {**real_caches["default"], "LOCATION": server.url}}
        reset_clients()

    yield stall
    settings.REDIS_URL, settings.CACHES = real_url, real_caches
    reset_clients()
    server.close()


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_with_redis_stalled_pages_and_api_answer_503_after_two_short_timeouts_not_a_hang(stalled_redis, make_user):
    browser = Client()
    browser.force_login(make_user("ann"))  # the session is cached in Redis (cached_db)
    api = Client()
    stalled_redis()

    page, page_seconds = _timed(lambda: browser.get("/"))
    shorten, shorten_seconds = _timed(lambda: api.post("/api/v1/shorten", {"long_url": "https://example.com/s"},
                                                       content_type="application/json"))

    assert page.status_code == 503 and int(page["Retry-After"]) >= 1
    assert shorten.status_code == 503 and shorten.json() == OUTAGE_BODY
    # At most two 1 s waits (a read that falls back, e.g. the cached session, then the one that fails
    # the request), where the old 5 s timeouts took 10 s; the margin absorbs a loaded machine.
    assert page_seconds < 3 and shorten_seconds < 3, (page_seconds, shorten_seconds)


def test_django_redis_clients_give_up_on_a_stalled_redis_within_the_configured_timeouts(settings):
    from core.redis import get_redis

    assert settings.REDIS_SOCKET_TIMEOUT <= 1 and settings.REDIS_CONNECT_TIMEOUT <= 1
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["SOCKET_TIMEOUT"] <= 1 and options["SOCKET_CONNECT_TIMEOUT"] <= 1
    kwargs = get_redis().connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] <= 1 and kwargs["socket_connect_timeout"] <= 1
