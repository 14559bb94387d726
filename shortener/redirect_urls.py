from django.urls import re_path

from shortener import redirects

urlpatterns = [
    re_path(r"^(?P<code>[A-Za-z0-9_-]{3,32})$", redirects.follow, name="shortener-follow"),
]
