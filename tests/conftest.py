"""Shared fixtures: a clean Redis database per test, users, API clients."""

import itertools

import pytest
from rest_framework.test import APIClient

from core.redis import get_redis

pytest_plugins = ["tests.fixtures.browser"]

_counter = itertools.count()


@pytest.fixture(autouse=True)
def clean_redis():
    """Each test process owns one Redis database (see settings); empty it around each test."""
    client = get_redis()
    client.flushdb()
    yield client
    client.flushdb()


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
