"""Feed test helpers: users, authenticated Mastodon API clients, posting and reading."""

import pytest


@pytest.fixture
def as_user(client_for):
    """``as_user(user)`` → an APIClient sending ``Authorization: Token …``."""
    return client_for
