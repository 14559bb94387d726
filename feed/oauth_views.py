"""Mastodon's OAuth endpoints: app registration, the consent page, token and revocation.

The protocol itself is django-oauth-toolkit's; these views add what Mastodon clients expect:
the Application entity, the out-of-band redirect (the code shown on a page to copy), the
``created_at`` of a token, and that a revoked token stops resolving at once.
"""

import json
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from oauth2_provider import views as oauth_views
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.ratelimit import RateLimit, client_ip, enforce
from core.tokens import token_invalidate
from feed import errors, store
from feed.api.base import mastodon_entity
from feed.oauth import FEED_AUTHENTICATION, token_checksum
from feed.services.apps import OOB_URI, app_create


def application_entity(application, *, client_secret: str | None = None) -> dict:
    info = getattr(application, "feed_info", None)
    uris = application.redirect_uris.split()
    entity = {
        "id": str(application.id),
        "name": application.name,
        "website": (info.website or None) if info else None,
        "scopes": info.scopes.split() if info else ["read"],
        "redirect_uri": "\n".join(uris),
        "redirect_uris": uris,
        "vapid_key": "",
        "client_id": application.client_id,
    }
    if client_secret is not None:
        entity["client_secret"] = client_secret
        entity["client_secret_expires_at"] = 0
    return entity


# Registration is open to anyone, so each address may register only so many apps.
APPS_PER_ADDRESS = RateLimit(scope="feed-apps", limit=30, period=300)


@mastodon_entity
class AppsView(APIView):
    """``POST /api/v1/apps``: anyone may register an app (as on Mastodon), within a rate limit."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    def post(self, request):
        enforce(APPS_PER_ADDRESS, client_ip(request))
        data = request.data if hasattr(request.data, "get") else {}
        listed = data.getlist("redirect_uris[]") if hasattr(data, "getlist") else None
        redirect_uris = listed or data.get("redirect_uris")
        scopes = data.get("scopes")
        application, secret = app_create(name=data.get("client_name"), redirect_uris=redirect_uris,
                                         scopes=scopes, website=data.get("website"))
        return Response(application_entity(application, client_secret=secret))


@mastodon_entity
class AppVerifyCredentialsView(APIView):
    """``GET /api/v1/apps/verify_credentials``: the app of the token (user or app token)."""

    authentication_classes = FEED_AUTHENTICATION
    permission_classes = [AllowAny]

    def get(self, request):
        key = request.auth if isinstance(request.auth, str) else None
        application_id = (get_access_token_model().objects.filter(
            token_checksum=token_checksum(key), expires__gt=timezone.now()).values_list("application_id", flat=True)
            .first() if key else None)
        application = get_application_model().objects.filter(id=application_id).first() if application_id else None
        if application is None:
            raise errors.invalid_token()
        return Response(application_entity(application))


class AuthorizeView(oauth_views.AuthorizationView):
    """``GET /oauth/authorize``: the consent page (after log-in); ``POST``: the answer.

    An app registered with ``urn:ietf:wg:oauth:2.0:oob`` gets the code on a page to copy."""

    template_name = "oauth/authorize.html"

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        application = self.oauth2_data.get("application")
        if application is not None and settings.CONTENT_SECURITY_POLICY:
            # The consent form's answer redirects to the app: the page's form-action must allow it.
            origins = sorted({f"{parts.scheme}://{parts.netloc}" for uri in application.redirect_uris.split()
                              if (parts := urlsplit(uri)).scheme in ("http", "https")})
            if origins:
                response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY.replace(
                    "form-action 'self'", "form-action 'self' " + " ".join(origins))
        return response

    def redirect(self, redirect_to, application):
        if redirect_to.startswith(OOB_URI):
            query = parse_qs(urlsplit(redirect_to).query)
            return render(self.request, "oauth/authorized_oob.html", {
                "authorization_code": query.get("code", [""])[0], "denial": query.get("error", [""])[0],
                "application": application,
            })
        return super().redirect(redirect_to, application)


class TokenView(oauth_views.TokenView):
    """``POST /oauth/token``: grants ``authorization_code``, ``client_credentials`` and
    ``refresh_token``; the body is Mastodon's Token entity (with ``created_at``)."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            body = json.loads(response.content)
            token = get_access_token_model().objects.filter(
                token_checksum=token_checksum(body.get("access_token", ""))).values_list("created", flat=True).first()
            if token is not None:
                body["created_at"] = int(token.timestamp())
            response.content = json.dumps(body)
        return response


class RevokeView(oauth_views.RevokeTokenView):
    """``POST /oauth/revoke``: the token (access or refresh) and the access token it gave stop
    resolving at once, in every process."""

    def post(self, request, *args, **kwargs):
        raw = request.POST.get("token", "")
        keys = [raw] if raw else []
        if raw:
            refresh = get_refresh_token_model().objects.filter(token_checksum=token_checksum(raw)).select_related(
                "access_token").first()
            if refresh is not None and refresh.access_token is not None:
                keys.append(refresh.access_token.token)
        response = super().post(request, *args, **kwargs)
        # Another app's credentials revoke nothing (and answer 200 all the same, per RFC 7009).
        for key in keys:
            if not get_access_token_model().objects.filter(token_checksum=token_checksum(key)).exists():
                token_invalidate(key)
                store.oauth_scopes_forget(token_checksum(key))
        if response.status_code == 200 and not response.content:
            response = JsonResponse({})  # Mastodon's answer: an empty JSON object
        return response
