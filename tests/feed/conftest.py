"""Feed test helpers: users, authenticated Mastodon API clients, posting and reading."""

import pytest


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
def as_user(client_for):
    """``as_user(user)`` → an APIClient sending ``Authorization: Token …``."""
    return client_for
