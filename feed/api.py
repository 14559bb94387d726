"""Mastodon's client API (the feed's subset): parse input, call a service or selector, render
Mastodon's entities. Paging follows Mastodon: ``max_id``/``since_id``/``min_id``/``limit`` and a
``Link`` header with ``rel="next"`` and ``rel="prev"``."""

from urllib.parse import urlencode

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ApplicationError
from core.ids import parse_id
from core.ratelimit import client_ip
from feed import errors, presenters, selectors
from feed.oauth import FEED_AUTHENTICATION, TokenScopes
from feed.selectors import PageParams
from feed.services import interactions, limits, media, notifications, relationships, statuses
from feed.services.relationships import account_get
from feed.services.statuses import visible_status

MAX_RELATIONSHIP_IDS = 80


# --- the base of every feed view: scopes and rate limits ---------------------------------
def _identity(request) -> str:
    return f"a{request.user.id}" if request.user.is_authenticated else f"ip{client_ip(request)}"


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
    base = request.build_absolute_uri(request.path)
    keep = {k: v for k, v in request.query_params.items() if k == "limit" or k.startswith("exclude_")}
    next_url = f"{base}?{urlencode({**keep, 'max_id': last_id})}"
    prev_url = f"{base}?{urlencode({**keep, prev_param: first_id})}"
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'


def _paged(request, data: list, cursor_ids: list[int], *, status: int = 200, prev_param: str = "min_id") -> Response:
    response = Response(data, status=status)
    if cursor_ids:
        response["Link"] = _link(request, cursor_ids[0], cursor_ids[-1], prev_param)
    return response


def mastodon_entity(view):
    """Document a view's methods as answering Mastodon's JSON entity (see its API documentation)."""
    for method in ("get", "post", "put", "delete"):
        if method in vars(view):
            documented = extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT,
                                       tags=["feed (Mastodon API)"])(vars(view)[method])
            setattr(view, method, documented)
    return view


def _viewer(request):
    return request.user if request.user.is_authenticated else None


# --- timelines ---------------------------------------------------------------------
@mastodon_entity
class HomeTimelineView(FeedView):
    scopes = {"GET": "read:statuses"}
    def get(self, request):
        page = selectors.home_timeline_page(reader=request.user, params=_page_params(request))
        data = presenters.render_statuses(page.ids, request.user)
        # 206: computed from the database while the reader's timeline is rebuilt.
        return _paged(request, data, page.ids, status=206 if page.partial else 200)


# --- accounts ---------------------------------------------------------------------
@mastodon_entity
class VerifyCredentialsView(FeedView):
    scopes = {"GET": "read:accounts"}
    def get(self, request):
        return Response(presenters.credential_account(request.user))


@mastodon_entity
class AccountLookupView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        acct = request.query_params.get("acct", "")
        if not acct.strip():
            raise errors.invalid("acct", "This parameter is required.")
        user = selectors.account_by_acct(acct.strip())
        if user is None:
            raise errors.record_not_found()
        return Response(presenters.render_account(user))


@mastodon_entity
class AccountDetailView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request, account_id: str):
        return Response(presenters.render_account(account_get(account_id=account_id)))


@mastodon_entity
class AccountStatusesView(FeedView):
    scopes = {"GET": "read:statuses"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request, account_id: str):
        account = account_get(account_id=account_id)
        page = selectors.account_statuses_page(
            account=account, viewer=_viewer(request), params=_page_params(request),
            exclude_replies=_flag(request, "exclude_replies"), exclude_reblogs=_flag(request, "exclude_reblogs"),
            only_media=_flag(request, "only_media"), pinned=_flag(request, "pinned"),
        )
        return _paged(request, presenters.render_statuses(page.ids, _viewer(request)), page.ids)


def _accounts_page(request, selector, **subject) -> Response:
    """A keyset page of accounts (followers, favouriters …) with Mastodon's Link header."""
    params = _page_params(request, default=selectors.ACCOUNTS_DEFAULT_LIMIT, maximum=selectors.ACCOUNTS_MAX_LIMIT)
    cursor_ids, account_ids = selector(params=params, **subject)
    return _paged(request, presenters.render_accounts(account_ids), cursor_ids, prev_param="since_id")


@mastodon_entity
class _AccountListView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]
    selector = None

    def get(self, request, account_id: str):
        return _accounts_page(request, type(self).selector, account=account_get(account_id=account_id))


@mastodon_entity
class FollowersView(_AccountListView):
    selector = staticmethod(selectors.followers_page)


@mastodon_entity
class FollowingView(_AccountListView):
    selector = staticmethod(selectors.following_page)


ACCOUNT_ACTIONS = {
    "follow": relationships.account_follow,
    "unfollow": relationships.account_unfollow,
    "block": relationships.account_block,
    "unblock": relationships.account_unblock,
    "mute": relationships.account_mute,
    "unmute": relationships.account_unmute,
}


ACCOUNT_ACTION_SCOPES = {"follow": "write:follows", "unfollow": "write:follows", "block": "write:blocks",
                         "unblock": "write:blocks", "mute": "write:mutes", "unmute": "write:mutes"}


@mastodon_entity
class AccountActionView(FeedView):
    verb = ""

    @property
    def scopes(self) -> dict[str, str]:
        return {"POST": ACCOUNT_ACTION_SCOPES[self.verb]}

    def post(self, request, account_id: str):
        if self.verb == "follow":
            take_limit(request, limits.FOLLOWS)
        target = ACCOUNT_ACTIONS[self.verb](account=request.user, target_id=account_id)
        return Response(presenters.render_relationship(request.user, target.id))


@mastodon_entity
class RelationshipsView(FeedView):
    scopes = {"GET": "read:follows"}
    def get(self, request):
        raw = request.query_params.getlist("id[]") or request.query_params.getlist("id")
        if len(raw) > MAX_RELATIONSHIP_IDS:
            raise errors.invalid("id", f"At most {MAX_RELATIONSHIP_IDS} ids.")
        wanted = [i for i in (parse_id(v) for v in raw) if i is not None]
        existing = selectors.accounts_by_ids(wanted)
        ids = [i for i in dict.fromkeys(wanted) if i in existing]
        data = selectors.relationships(viewer=request.user, account_ids=ids)
        return Response([presenters.relationship_entity(r) for r in data])


# --- statuses -------------------------------------------------------------------------
def _list_param(data, name: str):
    if hasattr(data, "getlist"):
        return data.getlist(f"{name}[]") or data.getlist(name)
    value = data.get(name)
    return value if value is not None else data.get(f"{name}[]")


@mastodon_entity
class StatusCreateView(FeedView):
    scopes = {"POST": "write:statuses"}
    def post(self, request):
        data = _body(request)
        take_limit(request, limits.STATUSES)
        status, _ = statuses.status_publish(
            account=request.user, text=data.get("status"), in_reply_to_id=data.get("in_reply_to_id"),
            visibility=data.get("visibility"), media_ids=_list_param(data, "media_ids"),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(presenters.render_status(status.id, request.user))


@mastodon_entity
class StatusDetailView(FeedView):
    scopes = {"GET": "read:statuses", "DELETE": "write:statuses"}
    def get_permissions(self):
        return [AllowAny(), TokenScopes()] if self.request.method == "GET" else super().get_permissions()

    def get(self, request, status_id: str):
        status = visible_status(status_id=status_id, viewer=_viewer(request))
        return Response(presenters.render_status(status.id, _viewer(request)))

    def delete(self, request, status_id: str):
        status = statuses.status_delete(account=request.user, status_id=status_id)
        # Mastodon answers with the deleted status and its source text, for "delete and redraft".
        return Response(presenters.render_status(status.id, request.user, with_source=True))


@mastodon_entity
class StatusContextView(FeedView):
    scopes = {"GET": "read:statuses"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request, status_id: str):
        viewer = _viewer(request)
        status = visible_status(status_id=status_id, viewer=viewer)
        ancestors, descendants = selectors.status_context(status=status, viewer=viewer)
        rendered = {int(s["id"]): s for s in presenters.render_statuses([*ancestors, *descendants], viewer)}
        return Response({
            "ancestors": [rendered[i] for i in ancestors if i in rendered],
            "descendants": [rendered[i] for i in descendants if i in rendered],
        })


STATUS_ACTIONS = {
    "favourite": interactions.status_favourite,
    "unfavourite": interactions.status_unfavourite,
    "reblog": interactions.status_reblog,
    "unreblog": interactions.status_unreblog,
}


@mastodon_entity
class StatusActionView(FeedView):
    verb = ""

    @property
    def scopes(self) -> dict[str, str]:
        return {"POST": "write:favourites" if "favourite" in self.verb else "write:statuses"}

    def post(self, request, status_id: str):
        kwargs = {"visibility": _body(request).get("visibility")} if self.verb == "reblog" else {}
        status = STATUS_ACTIONS[self.verb](account=request.user, status_id=status_id, **kwargs)
        return Response(presenters.render_status(status.id, request.user))


@mastodon_entity
class _StatusAccountsView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]
    selector = None

    def get(self, request, status_id: str):
        status = visible_status(status_id=status_id, viewer=_viewer(request))
        return _accounts_page(request, type(self).selector, status=status.reblog_of if status.reblog_of_id else status)


@mastodon_entity
class FavouritedByView(_StatusAccountsView):
    selector = staticmethod(selectors.favourited_by_page)


@mastodon_entity
class RebloggedByView(_StatusAccountsView):
    selector = staticmethod(selectors.reblogged_by_page)


# --- instance ----------------------------------------------------------------------------
@mastodon_entity
class InstanceV1View(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response(presenters.instance_v1())


@mastodon_entity
class InstanceV2View(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response(presenters.instance_v2())


@mastodon_entity
class CustomEmojisView(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response([])


MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers beside the file


# --- media ---------------------------------------------------------------------------------
@mastodon_entity
class MediaUploadView(FeedView):
    """``POST /api/v2/media``: 202 while the sizes are made, 200 when they were made at once."""

    scopes = {"POST": "write:media"}

    def post(self, request):
        # Refused before the body is read: an upload far past the limit never reaches the disk.
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > settings.FEED_MEDIA_MAX_BYTES + MULTIPART_OVERHEAD:
            raise errors.validation_failed("file", "File file size must be less than "
                                           f"{settings.FEED_MEDIA_MAX_BYTES // (1024 * 1024)} MB")
        data = _body(request)
        attachment = media.media_upload(account=request.user, file=request.FILES.get("file"),
                                        description=data.get("description"))
        attachment.refresh_from_db()
        return Response(presenters.media_entity(attachment), status=200 if attachment.ready else 202)


@mastodon_entity
class MediaDetailView(FeedView):
    """``GET /api/v1/media/{id}``: 206 while processing, 200 when ready; ``PUT``: the description."""

    scopes = {"GET": "write:media", "PUT": "write:media"}

    def get(self, request, media_id: str):
        attachment = media.own_media(account=request.user, media_id=media_id)
        if attachment.failed:
            raise errors.validation_failed("file", "File could not be processed")
        return Response(presenters.media_entity(attachment), status=200 if attachment.ready else 206)

    def put(self, request, media_id: str):
        attachment = media.media_update(account=request.user, media_id=media_id,
                                        description=_body(request).get("description"))
        return Response(presenters.media_entity(attachment))


# --- notifications ---------------------------------------------------------------------------
def _types_param(request, name: str) -> list[str]:
    values = request.query_params.getlist(f"{name}[]") or request.query_params.getlist(name)
    unknown = [v for v in values if v not in selectors.NOTIFICATION_TYPES]
    if unknown:
        raise errors.invalid(name, f"Unknown notification type: {unknown[0][:40]}")
    return values


@mastodon_entity
class NotificationsView(FeedView):
    scopes = {"GET": "read:notifications"}

    def get(self, request):
        ids = selectors.notifications_page(
            account=request.user, params=_page_params(request, default=40, maximum=80),
            types=_types_param(request, "types"), exclude_types=_types_param(request, "exclude_types"))
        data = presenters.render_notifications(ids, request.user)
        response = Response(data)
        if ids:
            response["Link"] = _link(request, ids[0], ids[-1], "min_id")
        return response


@mastodon_entity
class NotificationDetailView(FeedView):
    scopes = {"GET": "read:notifications"}

    def get(self, request, notification_id: str):
        parsed = parse_id(notification_id)
        data = presenters.render_notifications([parsed], request.user) if parsed is not None else []
        if not data:
            raise errors.record_not_found()
        return Response(data[0])


@mastodon_entity
class NotificationsClearView(FeedView):
    scopes = {"POST": "write:notifications"}

    def post(self, request):
        notifications.notifications_clear(account=request.user)
        return Response({})


@mastodon_entity
class NotificationDismissView(FeedView):
    scopes = {"POST": "write:notifications"}

    def post(self, request, notification_id: str):
        notifications.notification_dismiss(account=request.user, notification_id=notification_id)
        return Response({})


# --- hashtags and search -----------------------------------------------------------------------
MAX_TAG_LENGTH = 100


@mastodon_entity
class TagTimelineView(PublicFeedView):
    scopes = {"GET": "read:statuses"}

    def get(self, request, hashtag: str):
        if len(hashtag) > MAX_TAG_LENGTH or not hashtag.replace("_", "a").isalnum():
            raise errors.invalid("hashtag", "Must be a hashtag name (letters, digits, underscores).")
        page = selectors.tag_timeline_page(tag=hashtag, viewer=_viewer(request), params=_page_params(request))
        return _paged(request, presenters.render_statuses(page.ids, _viewer(request)), page.ids)


SEARCH_TYPES = ("accounts", "hashtags", "statuses")
SEARCH_MAX_QUERY = 500


@mastodon_entity
class SearchView(PublicFeedView):
    """``GET /api/v2/search``: accounts, hashtags and statuses (full-text); offset paging."""

    scopes = {"GET": "read:search"}

    def get(self, request):
        query = request.query_params.get("q", "")
        if not query.strip():
            raise errors.invalid("q", "This parameter is required.")
        if len(query) > SEARCH_MAX_QUERY:
            raise errors.invalid("q", f"At most {SEARCH_MAX_QUERY} characters.")
        kind = request.query_params.get("type") or None
        if kind is not None and kind not in SEARCH_TYPES:
            raise errors.invalid("type", "Must be accounts, hashtags or statuses.")
        params = _page_params(request, maximum=40)
        try:
            offset = int(request.query_params.get("offset") or 0)
        except ValueError:
            raise errors.invalid("offset", "Must be an integer.")
        if not 0 <= offset <= 10_000:
            raise errors.invalid("offset", "Must be between 0 and 10000.")
        viewer = _viewer(request)
        wanted = [kind] if kind else list(SEARCH_TYPES)
        result = {"accounts": [], "statuses": [], "hashtags": []}
        if "accounts" in wanted:
            result["accounts"] = presenters.render_accounts(
                selectors.search_accounts(query=query, limit=params.limit, offset=offset))
        if "hashtags" in wanted:
            result["hashtags"] = [presenters.tag_entity(name) for name in
                                  selectors.search_hashtags(query=query, limit=params.limit, offset=offset)]
        if "statuses" in wanted:
            result["statuses"] = presenters.render_statuses(
                selectors.search_statuses(query=query, viewer=viewer, limit=params.limit, offset=offset), viewer)
        return Response(result)
