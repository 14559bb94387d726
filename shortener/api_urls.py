from django.urls import path, re_path

from shortener import api

urlpatterns = [
    path("shorten", api.ShortenView.as_view(), name="shortener-shorten"),
    path("links", api.LinkListView.as_view(), name="shortener-links"),
    path("links/import", api.LinkImportView.as_view(), name="shortener-import"),
    re_path(r"^links/(?P<code>[A-Za-z0-9_-]{1,32})$", api.LinkDetailView.as_view(), name="shortener-link"),
    re_path(r"^links/(?P<code>[A-Za-z0-9_-]{1,32})/stats$", api.LinkStatsView.as_view(), name="shortener-stats"),
    re_path(
        r"^links/(?P<code>[A-Za-z0-9_-]{1,32})/qr\.(?P<fmt>svg|png)$", api.LinkQrView.as_view(), name="shortener-qr"
    ),
]
