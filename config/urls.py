from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import api as core_api
from core import media as core_media
from core import views as core_views

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics_view, name="metrics"),
    path("admin/login/", core_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/", core_views.account, name="account"),
    path("accounts/token/rotate/", core_views.account_token_rotate, name="account-token-rotate"),
    path("accounts/signup/", core_views.signup, name="signup"),
    path("accounts/password/", core_views.PasswordChangeView.as_view(), name="password-change"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),  # its script is a file: CSP-safe
    path("api/v1/auth/register", core_api.RegisterView.as_view(), name="api-register"),
    path("api/v1/auth/token", core_api.TokenView.as_view(), name="api-token"),
    path("api/v1/auth/token/rotate", core_api.TokenRotateView.as_view(), name="api-token-rotate"),
    path("api/v1/auth/me", core_api.MeView.as_view(), name="api-me"),
    path("api/v1/chat/", include("chat.api_urls")),
    path("api/v1/", include("rides.api_urls")),
    path("api/v1/", include("shortener.api_urls")),
    path("links/", include("shortener.page_urls")),
    path("chat/", include("chat.page_urls")),
    path("rides/", include("rides.page_urls")),
    path("", include("feed.page_urls")),
    path("", include("feed.api_urls")),
    path("", include("feed.oauth_urls")),
]

if settings.SERVE_MEDIA:
    # One address serves public uploads too (only raster images inline); behind a proxy that
    # serves MEDIA_ROOT itself, SERVE_MEDIA=0 turns this off. Private files (chat attachments)
    # are never here: they live in PRIVATE_MEDIA_ROOT behind views that check access.
    urlpatterns += [
        re_path(r"^media/(?P<path>.+)$", core_media.serve_public, name="media"),
    ]

# Last: a single path segment is a short code (shortener/redirect_urls.py).
urlpatterns += [path("", include("shortener.redirect_urls"))]
