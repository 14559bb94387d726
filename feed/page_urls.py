"""The feed's pages under /feed/, and the public addresses the API's entities link to
(``/@alice``, ``/@alice/<id>``, ``/tags/<tag>``). Mounted at the site root."""

from django.urls import path, register_converter

from feed import views


class UsernameConverter:
    regex = r"[\w.@+-]{1,150}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class HashtagConverter(UsernameConverter):
    regex = r"\w{1,100}"


register_converter(UsernameConverter, "username")
register_converter(HashtagConverter, "hashtag")

urlpatterns = [
    path("feed/", views.page, {"view": "home"}, name="feed-page"),
    path("feed/notifications/", views.page, {"view": "notifications"}, name="feed-notifications-page"),
    path("feed/search/", views.page, {"view": "search"}, name="feed-search-page"),
    path("feed/tags/<hashtag:hashtag>/", views.page, {"view": "tag"}, name="feed-tag"),
    path("feed/statuses/<int:status_id>/", views.page, {"view": "thread"}, name="feed-thread"),
    path("feed/@<username:username>/", views.page, {"view": "profile"}, name="feed-profile"),
    path("feed/@<username:username>/followers/", views.page, {"view": "followers"}, name="feed-followers-page"),
    path("feed/@<username:username>/following/", views.page, {"view": "following"}, name="feed-following-page"),
    path("@<username:username>", views.account_url, name="feed-account-url"),
    path("@<username:username>/<int:status_id>", views.status_url, name="feed-status-url"),
    path("tags/<hashtag:hashtag>", views.tag_url, name="feed-tag-url"),
]
