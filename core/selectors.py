"""Account reads shared by the web pages and the API."""

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token


def api_token_of(user: AbstractBaseUser) -> str | None:
    """The user's current API token key, or None if they have none (revoked, never made)."""
    return Token.objects.filter(user=user).values_list("key", flat=True).first()
