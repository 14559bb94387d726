"""OAuth 2 for Mastodon apps, on django-oauth-toolkit.

- ``oauth_token_source``: resolves an OAuth access token to its active user for core's one
  token check (``core.tokens``), so Bearer tokens from apps work on the API, the hot path and
  WebSockets alike. Registered in ``FeedConfig.ready``.
- ``token_scopes``: the scopes an OAuth token was granted (None for the platform's own tokens
  and sessions, which have every scope); ``TokenScopes`` is the DRF permission checking them.
- ``MastodonOAuth2Validator``: an app may use the authorization code and client credentials
  grants (Mastodon's apps are not bound to one grant) and only the scopes it registered.
"""

import hashlib

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import BasePermission

from core import tokens
from core.authentication import TokenAuthentication
from feed import errors, store
from feed.scopes import scope_granted

ALLOWED_GRANTS = frozenset({"authorization_code", "client_credentials", "refresh_token"})


def token_checksum(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _live_tokens(key: str):
    return get_access_token_model().objects.filter(token_checksum=token_checksum(key), expires__gt=timezone.now())


def oauth_token_source(key: str) -> int | None:
    """The active user of a live OAuth access token (an app-only token has none)."""
    return _live_tokens(key).filter(user__is_active=True).values_list("user_id", flat=True).first()


def token_scopes(key: str) -> frozenset[str] | None:
    """The scopes of a live OAuth access token; None when ``key`` is not one (a platform token).

    Cached briefly in Redis (a token's scopes never change; a revoked token no longer
    authenticates at all, and its entry is dropped on revocation)."""
    digest = token_checksum(key)
    cached = store.oauth_scopes_cached(digest)
    if cached is None:
        scope = _live_tokens(key).values_list("scope", flat=True).first()
        cached = store.NOT_OAUTH if scope is None else scope
        store.oauth_scopes_cache(digest, cached)
    return granted_scopes(cached)


def granted_scopes(cached: str) -> frozenset[str] | None:
    """The scopes a cached answer of ``token_scopes`` names (None: not an OAuth token)."""
    return None if cached == store.NOT_OAUTH else frozenset(cached.split())


async def atoken_scopes(key: str) -> frozenset[str] | None:
    """``token_scopes`` for async code (the hot path): the cache on the hot path's connection, the
    database (when not cached) on a worker thread."""
    from core.hotdb import run_db

    cached = await store.aoauth_scopes_cached(token_checksum(key))
    if cached is None:
        return await run_db(token_scopes, key)
    return granted_scopes(cached)


def key_may(key: str | None, required: str) -> bool:
    """Whether a request authenticated by ``key`` (None: a session) may do what ``required`` names."""
    granted = token_scopes(key) if key else None
    return granted is None or scope_granted(required, granted)


def request_scopes(request) -> frozenset[str] | None:
    """The scopes of the request's OAuth token; None (every scope) for sessions and platform tokens."""
    if not isinstance(request.successful_authenticator, TokenAuthentication) or not isinstance(request.auth, str):
        return None
    return token_scopes(request.auth)


def app_token_application_id(key: str) -> int | None:
    """The app of a live app-only token (client credentials: no user), else None."""
    return _live_tokens(key).filter(user__isnull=True).values_list("application_id", flat=True).first()


class FeedTokenAuthentication(TokenAuthentication):
    """The platform's token check, plus Mastodon's app tokens (client credentials): those are
    accepted as an anonymous caller with the app's scopes, so public reads work with them and
    account endpoints answer 401."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except exceptions.AuthenticationFailed:
            key = tokens.parse_authorization(request.META.get("HTTP_AUTHORIZATION", ""))
            if key and app_token_application_id(key) is not None:
                return AnonymousUser(), key
            raise


FEED_AUTHENTICATION = [FeedTokenAuthentication, SessionAuthentication]


def default_scope(method: str) -> str:
    return "read" if method in ("GET", "HEAD", "OPTIONS") else "write"


class TokenScopes(BasePermission):
    """403 for an OAuth token lacking the scope a view names for the method (``view.scopes``,
    e.g. ``{"GET": "read:statuses"}``; ``read`` for reads and ``write`` otherwise by default)."""

    def has_permission(self, request, view) -> bool:
        granted = request_scopes(request)
        if granted is None:
            return True
        required = getattr(view, "scopes", {}).get(request.method) or default_scope(request.method)
        if not scope_granted(required, granted):
            raise errors.outside_scopes(required)
        return True


class MastodonOAuth2Validator(OAuth2Validator):
    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        return grant_type in ALLOWED_GRANTS

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        if not super().validate_scopes(client_id, scopes, client, request, *args, **kwargs):
            return False
        info = getattr(client, "feed_info", None)
        registered = set(info.scopes.split()) if info else {"read"}
        return all(scope_granted(scope, registered) for scope in scopes)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        info = getattr(request.client, "feed_info", None) if getattr(request, "client", None) else None
        return info.scopes.split() if info else ["read"]
