from django.urls import re_path

from shortener.redirect import view

urlpatterns = [
    re_path(r"^(?P<code>[A-Za-z0-9_-]{3,32})$", view.follow, name="shortener-follow"),
]
