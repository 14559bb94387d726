"""Account reads shared by the web pages and the API."""

import unicodedata

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token

USERNAME_FIELD_MAX_LENGTH = 150  # Django's column; longer input cannot name an account


def api_token_of(user: AbstractBaseUser) -> str | None:
    """The user's current API token key, or None if they have none (revoked, never made)."""
    return Token.objects.filter(user=user).values_list("key", flat=True).first()


def user_for_login(username: str):
    """The account a log-in as ``username`` means, in any letter case or compatibility form, or None.

    Usernames are unique case-insensitively (``core.services.username_clean`` and the sign-up
    check), so "Alice" and "ALICE" name the account stored as "alice". An exact match wins over
    case-folded ones; should two stored names differ only in case (older data), only the exact
    spelling logs in.
    """
    from django.contrib.auth import get_user_model

    name = unicodedata.normalize("NFKC", username or "")
    if not name or len(name) > USERNAME_FIELD_MAX_LENGTH:
        return None
    candidates = list(get_user_model().objects.filter(username__iexact=name)[:2])
    exact = [user for user in candidates if user.username == name]
    if exact:
        return exact[0]
    return candidates[0] if len(candidates) == 1 else None
