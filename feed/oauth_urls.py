"""OAuth 2 endpoints of Mastodon apps, mounted at the site root."""

from django.urls import path

from feed import oauth_views

urlpatterns = [
    path("api/v1/apps", oauth_views.AppsView.as_view(), name="feed-apps"),
    path("api/v1/apps/verify_credentials", oauth_views.AppVerifyCredentialsView.as_view(),
         name="feed-app-verify-credentials"),
    path("oauth/authorize", oauth_views.AuthorizeView.as_view(), name="oauth-authorize"),
    path("oauth/token", oauth_views.TokenView.as_view(), name="oauth-token"),
    path("oauth/revoke", oauth_views.RevokeView.as_view(), name="oauth-revoke"),
]

# Mastodon answers with or without a trailing slash, and some clients send one.
urlpatterns += [path(f"{pattern.pattern}/", pattern.callback) for pattern in list(urlpatterns)]
