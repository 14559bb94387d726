"""The base of every feed API view (scopes, rate limits, Mastodon's paging) and input parsing."""

import re
from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from core.ids import parse_id
from core.openapi import error_responses
from core.ratelimit import client_ip
from feed import errors, presenters, selectors
from feed.oauth import FEED_AUTHENTICATION, TokenScopes
from feed.selectors import PageParams
from feed.services import limits


# --- the base of every feed view: scopes and rate limits ---------------------------------
def _identity(request) -> str:
    return limits.account_identity(request.user.id) if request.user.is_authenticated else f"ip{client_ip(request)}"


def take_limit(request, rule: limits.Rule) -> None:
    """Count the request against ``rule`` for its account; its headers are the ones sent."""
    try:
        request.feed_limit_state = limits.limit_take(rule, _identity(request))
    except ApplicationError as error:
        request.feed_limit_state = getattr(error, "limit_state", None)
        raise


class FeedView(APIView):
    """A feed API view: signed in, OAuth scopes checked (``scopes`` per method, else ``read``
    for reads and ``write`` for writes), Mastodon's rate limit headers on every answer."""

    authentication_classes = FEED_AUTHENTICATION
    permission_classes = [IsAuthenticated, TokenScopes]
    scopes: dict[str, str] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        take_limit(request, limits.API)

    def permission_denied(self, request, message=None, code=None):
        if request.auth is not None and not request.user.is_authenticated:
            raise errors.user_required()  # an app token (no user) on an account's endpoint
        super().permission_denied(request, message, code)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        state = getattr(request, "feed_limit_state", None)
        if state is not None:
            for name, value in state.headers().items():
                response[name] = value
        return response


class PublicFeedView(FeedView):
    """Readable without signing in (a token, when sent, must still carry the scope)."""

    permission_classes = [AllowAny, TokenScopes]


# --- input ---------------------------------------------------------------------
def _id_param(request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    parsed = parse_id(value)
    if parsed is None:
        raise errors.invalid(name, "Must be a status id (an integer below 2^63).")
    return parsed


def _page_params(request, *, default: int = selectors.DEFAULT_LIMIT, maximum: int = selectors.MAX_LIMIT
                 ) -> PageParams:
    raw = request.query_params.get("limit")
    limit = default
    if raw not in (None, ""):
        try:
            limit = int(raw)
        except ValueError:
            raise errors.invalid("limit", "Must be an integer.")
        limit = max(1, min(limit, maximum))  # clamped, as Mastodon does
    return PageParams(max_id=_id_param(request, "max_id"), since_id=_id_param(request, "since_id"),
                      min_id=_id_param(request, "min_id"), limit=limit)


def _body(request):
    """The request's JSON object or form; anything else (a JSON list, a number) is a 400."""
    if not hasattr(request.data, "get"):
        raise errors.invalid("body", "Send a JSON object or a form.")
    return request.data


def _flag(request, name: str) -> bool:
    return str(request.query_params.get(name, "")).lower() in {"1", "true", "yes", "on"}


def _link(request, first_id: int, last_id: int, prev_param: str) -> str:
    return link_header(request.build_absolute_uri(request.path), request.query_params.items(), first_id, last_id,
                       prev_param)


def link_header(base: str, params, first_id: int, last_id: int, prev_param: str) -> str:
    """Mastodon's ``Link`` header of a page at ``base`` whose query had ``params`` ((name, value)
    pairs): the next page is older than ``last_id``, the previous newer than ``first_id``."""
    keep = {k: v for k, v in params if k == "limit" or k.startswith("exclude_")}
    next_url = f"{base}?{_query({**keep, 'max_id': last_id})}"
    prev_url = f"{base}?{_query({**keep, prev_param: first_id})}"
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'


_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")  # what urlencode leaves as it is


def _query(params: dict) -> str:
    """``urlencode(params)``, without its quoting machinery when nothing needs quoting (a hot read's
    Link header is made of names and digits)."""
    pairs = [(k, str(v)) for k, v in params.items()]
    if all(_UNQUOTED.fullmatch(k) and _UNQUOTED.fullmatch(v) for k, v in pairs):
        return "&".join(f"{k}={v}" for k, v in pairs)
    return urlencode(pairs)


def _paged(request, data: list, cursor_ids: list[int], *, status: int = 200, prev_param: str = "min_id") -> Response:
    response = Response(data, status=status)
    if cursor_ids:
        response["Link"] = _link(request, cursor_ids[0], cursor_ids[-1], prev_param)
    return response


# What every feed operation may answer besides its entity: bad input (400, Mastodon's 422), no or
# a bad token (401), a scope or CSRF refusal (403), an unknown or hidden record (404), the rate limit;
# a write also a body too large (413) or of a media type it does not read (415, JSON, form, multipart).
FEED_ERRORS = (400, 401, 403, 404, 422, 429)
FEED_WRITE_ERRORS = (*FEED_ERRORS, 413, 415)


def mastodon_entity(view=None, *, array: tuple[str, ...] = (), statuses: dict[str, tuple[int, ...]] | None = None):
    """Document a view's methods as answering Mastodon's JSON entity (see its API documentation).

    ``array`` names the methods answering a JSON array (lists, timelines); ``statuses`` the success
    statuses of a method when not only 200 (206 while a timeline is rebuilt, 202 for an upload).
    Every method also documents the feed's errors, with the platform's error body.
    """

    def document(view):
        for method in ("get", "post", "put", "delete"):
            if method in vars(view):
                entity = {"type": "array", "items": {"type": "object"}} if method in array else OpenApiTypes.OBJECT
                success = (statuses or {}).get(method, (200,))
                errors_ = FEED_ERRORS if method == "get" else FEED_WRITE_ERRORS
                documented = extend_schema(
                    request=OpenApiTypes.OBJECT, tags=["feed (Mastodon API)"],
                    responses={**dict.fromkeys(success, entity), **error_responses(*errors_)},
                )(vars(view)[method])
                setattr(view, method, documented)
        return view

    return document(view) if view is not None else document


def _viewer(request):
    return request.user if request.user.is_authenticated else None


def _accounts_page(request, selector, **subject) -> Response:
    """A keyset page of accounts (followers, favouriters …) with Mastodon's Link header."""
    params = _page_params(request, default=selectors.ACCOUNTS_DEFAULT_LIMIT, maximum=selectors.ACCOUNTS_MAX_LIMIT)
    cursor_ids, account_ids = selector(params=params, **subject)
    return _paged(request, presenters.render_accounts(account_ids), cursor_ids, prev_param="since_id")
