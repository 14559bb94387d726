"""Mastodon's client API paths (the feed's subset), mounted at the site root."""

from django.urls import path

from feed import api

_accounts = "api/v1/accounts/<str:account_id>"
_statuses = "api/v1/statuses/<str:status_id>"

urlpatterns = [
    path("api/v1/timelines/home", api.HomeTimelineView.as_view(), name="feed-home"),
    path("api/v1/accounts/verify_credentials", api.VerifyCredentialsView.as_view(), name="feed-verify-credentials"),
    path("api/v1/accounts/lookup", api.AccountLookupView.as_view(), name="feed-account-lookup"),
    path("api/v1/accounts/relationships", api.RelationshipsView.as_view(), name="feed-relationships"),
    path(_accounts, api.AccountDetailView.as_view(), name="feed-account"),
    path(f"{_accounts}/statuses", api.AccountStatusesView.as_view(), name="feed-account-statuses"),
    path(f"{_accounts}/followers", api.FollowersView.as_view(), name="feed-followers"),
    path(f"{_accounts}/following", api.FollowingView.as_view(), name="feed-following"),
    *[path(f"{_accounts}/{verb}", api.AccountActionView.as_view(verb=verb), name=f"feed-account-{verb}")
      for verb in api.ACCOUNT_ACTIONS],
    path("api/v1/statuses", api.StatusCreateView.as_view(), name="feed-statuses"),
    path(_statuses, api.StatusDetailView.as_view(), name="feed-status"),
    path(f"{_statuses}/context", api.StatusContextView.as_view(), name="feed-status-context"),
    path(f"{_statuses}/favourited_by", api.FavouritedByView.as_view(), name="feed-favourited-by"),
    path(f"{_statuses}/reblogged_by", api.RebloggedByView.as_view(), name="feed-reblogged-by"),
    *[path(f"{_statuses}/{verb}", api.StatusActionView.as_view(verb=verb), name=f"feed-status-{verb}")
      for verb in api.STATUS_ACTIONS],
    path("api/v2/media", api.MediaUploadView.as_view(), name="feed-media-upload"),
    path("api/v1/media/<str:media_id>", api.MediaDetailView.as_view(), name="feed-media"),
    path("api/v1/notifications", api.NotificationsView.as_view(), name="feed-notifications"),
    path("api/v1/notifications/clear", api.NotificationsClearView.as_view(), name="feed-notifications-clear"),
    path("api/v1/notifications/<str:notification_id>", api.NotificationDetailView.as_view(),
         name="feed-notification"),
    path("api/v1/notifications/<str:notification_id>/dismiss", api.NotificationDismissView.as_view(),
         name="feed-notification-dismiss"),
    path("api/v1/timelines/tag/<str:hashtag>", api.TagTimelineView.as_view(), name="feed-tag-timeline"),
    path("api/v2/search", api.SearchView.as_view(), name="feed-search"),
    path("api/v1/instance", api.InstanceV1View.as_view(), name="feed-instance"),
    path("api/v2/instance", api.InstanceV2View.as_view(), name="feed-instance-v2"),
    path("api/v1/custom_emojis", api.CustomEmojisView.as_view(), name="feed-custom-emojis"),
]

# Mastodon answers with or without a trailing slash, and some clients send one (Mastodon.py does).
urlpatterns += [path(f"{pattern.pattern}/", pattern.callback) for pattern in list(urlpatterns)]
