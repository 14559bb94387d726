"""Shared fixtures: a clean Redis database per test, users, API clients."""

import itertools

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from core.redis import get_redis

pytest_plugins = ["tests.fixtures.browser"]

# On a small, busy machine a slow example is load, not a bug: no per-example deadline.
hypothesis_settings.register_profile("project", deadline=None)
hypothesis_settings.load_profile("project")

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def _leave_the_test_redis_database_empty():
    """Background writers (metrics flushes, the Snowflake lease) may outlive the last test."""
    yield
    from core.metrics import recorder

    recorder.stop()
    get_redis().flushdb()


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test process owns one Redis database (see settings); empty it around each test."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture(scope="session", autouse=True)
def _release_test_database_sessions(django_db_setup, django_db_blocker):
    """Let the test database be dropped at the end of the run.

    Connections checked out of the psycopg pool by threads that never returned
    them (worker threads of live servers, race tests) outlive the pool's close()
    and would make DROP DATABASE fail, leaving test databases behind.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def fresh_channel_layers():
    """A new channel layer per test: channels-redis binds its asyncio locks to the
    first event loop that uses them, and each test (and each live server) has its own."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def make_user(django_user_model):
    def make(username: str | None = None, password: str = "correct-horse-battery", **extra):
        username = username or f"user{next(_counter)}"
        return django_user_model.objects.create_user(username=username, password=password, **extra)

    return make


# The people of the chat and feed tests.
@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def carol(make_user):
    return make_user("carol")


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def auth_client(user):
    from core.services import token_for

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user).key}")
    client.user = user
    return client


@pytest.fixture
def client_for():
    """An API client authenticated as the given user."""
    from core.services import token_for

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user).key}")
        client.user = user
        return client

    return make
