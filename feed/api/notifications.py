"""Notifications: list with type filters and paging, read one, dismiss, clear."""

from rest_framework.response import Response

from core.ids import parse_id
from feed import errors, presenters, selectors
from feed.api.base import (
    FeedView,
    _link,
    _page_params,
    mastodon_entity,
)
from feed.services import notifications


# --- notifications ---------------------------------------------------------------------------
def _types_param(request, name: str) -> list[str]:
    values = request.query_params.getlist(f"{name}[]") or request.query_params.getlist(name)
    unknown = [v for v in values if v not in selectors.NOTIFICATION_TYPES]
    if unknown:
        raise errors.invalid(name, f"Unknown notification type: {unknown[0][:40]}")
    return values


@mastodon_entity(array=("get",))
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
