from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    # The smallest Django answer comparable to nginx's `return 302`: the full
    # middleware stack and Django's ASGI handler, no database or Redis.
    path("bench/django-redirect", RedirectView.as_view(url="https://example.com/", permanent=False)),
    path("", include("config.urls")),
]
