"""Timelines (home, hashtag) and statuses: publish, read, delete, context, favourite and reblog."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from feed import errors, presenters, selectors
from feed.api.base import (
    FeedView,
    PublicFeedView,
    _accounts_page,
    _body,
    _page_params,
    _paged,
    _viewer,
    mastodon_entity,
    take_limit,
)
from feed.oauth import TokenScopes
from feed.services import interactions, limits, statuses
from feed.services.statuses import visible_status


# --- timelines ---------------------------------------------------------------------
@mastodon_entity(array=("get",), statuses={"get": (200, 206)})
class HomeTimelineView(FeedView):
    scopes = {"GET": "read:statuses"}
    def get(self, request):
        page = selectors.home_timeline_page(reader=request.user, params=_page_params(request))
        data = presenters.render_statuses(page.ids, request.user, records=page.records)
        # 206: computed from the database while the reader's timeline is rebuilt.
        return _paged(request, data, page.ids, status=206 if page.partial else 200)



# --- hashtags and search -----------------------------------------------------------------------
MAX_TAG_LENGTH = 100


@mastodon_entity(array=("get",))
class TagTimelineView(PublicFeedView):
    scopes = {"GET": "read:statuses"}

    def get(self, request, hashtag: str):
        if len(hashtag) > MAX_TAG_LENGTH or not hashtag.replace("_", "a").isalnum():
            raise errors.invalid("hashtag", "Must be a hashtag name (letters, digits, underscores).")
        page = selectors.tag_timeline_page(tag=hashtag, viewer=_viewer(request), params=_page_params(request))
        return _paged(request, presenters.render_statuses(page.ids, _viewer(request), records=page.records), page.ids)




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


@mastodon_entity(array=("get",))
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
