"""Registering Mastodon apps as OAuth clients."""

from urllib.parse import urlsplit

from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model

from feed import errors
from feed.models import OAuthAppInfo
from feed.scopes import OAUTH_SCOPES

OOB_URI = "urn:ietf:wg:oauth:2.0:oob"
MAX_NAME = 255
MAX_REDIRECT_URIS = 10


def _redirect_uris(value) -> list[str]:
    raw = value if isinstance(value, list) else str(value or "").split()
    uris = [str(u).strip() for u in raw if str(u).strip()]
    if not uris:
        raise errors.validation_failed("redirect_uris", "Redirect URI can't be blank")
    if len(uris) > MAX_REDIRECT_URIS:
        raise errors.validation_failed("redirect_uris", f"At most {MAX_REDIRECT_URIS} redirect URIs")
    for uri in uris:
        if uri == OOB_URI:
            continue
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.hostname or "#" in uri or "@" in parts.netloc \
                or len(uri) > 2000:
            raise errors.validation_failed("redirect_uris", "Redirect URI must be an absolute http(s) URI or "
                                           f"{OOB_URI}")
    return list(dict.fromkeys(uris))


def _scopes(value) -> list[str]:
    scopes = (value if isinstance(value, list) else str(value or "read").split()) or ["read"]
    unknown = [s for s in scopes if s not in OAUTH_SCOPES]
    if unknown:
        raise errors.validation_failed("scopes", f"Scopes are invalid: {' '.join(map(str, unknown))[:100]}")
    return list(dict.fromkeys(scopes))


def app_create(*, name, redirect_uris, scopes=None, website=None):
    """Register an app; returns ``(application, client_secret)`` — the secret in clear, once
    (it is stored hashed). Raises 422 naming the field for a blank name, a bad redirect URI or
    an unknown scope."""
    if not isinstance(name, str) or not name.strip():
        raise errors.validation_failed("client_name", "Name can't be blank")
    if len(name) > MAX_NAME:
        raise errors.validation_failed("client_name", f"Name is too long (maximum is {MAX_NAME} characters)")
    uris = _redirect_uris(redirect_uris)
    scope_list = _scopes(scopes)
    website = website if isinstance(website, str) else ""
    if website and urlsplit(website).scheme not in ("http", "https"):
        raise errors.validation_failed("website", "Website must be an http(s) URL")
    Application = get_application_model()
    secret = generate_client_secret()
    with transaction.atomic():
        application = Application.objects.create(
            name=name.strip(), redirect_uris=" ".join(uris), client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE, client_secret=secret,
            algorithm="",
        )
        OAuthAppInfo.objects.create(application=application, scopes=" ".join(scope_list), website=website[:500])
    return application, secret
