"""Server-rendered feed pages: one shell per page; the browser talks to the Mastodon API (session
cookie and CSRF) and to the streaming socket."""

from django.contrib.auth.decorators import login_required
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from feed import presenters
from feed.models import MAX_STATUS_CHARS
from feed.pages import who_to_follow


def _page(request, view: str, **params):
    config = {
        "view": view,
        "params": params,
        "me": presenters.render_account(request.user),
        "csrf_token": get_token(request),
        "max_characters": MAX_STATUS_CHARS,
        "max_media": presenters.MAX_MEDIA_ATTACHMENTS,
        "socket_path": "/api/v1/streaming?stream=user",
        "suggestions": presenters.render_accounts(who_to_follow(viewer=request.user)),
    }
    return render(request, "feed/index.html", {"feed_config": config, "view": view})


@login_required
@require_GET
def page(request, view: str, **params):
    """A page of the feed: ``view`` names what the app shows, URL parameters say of what."""
    if view == "search":
        params["q"] = request.GET.get("q", "")[:200]
    if "status_id" in params:
        params["status_id"] = str(params["status_id"])
    return _page(request, view, **params)


# The addresses the API's entities carry (``url`` of accounts, statuses, hashtags) lead to the pages.
@require_GET
def account_url(request, username: str):
    return redirect("feed-profile", username=username)


@require_GET
def status_url(request, username: str, status_id: int):
    return redirect("feed-thread", status_id=status_id)


@require_GET
def tag_url(request, hashtag: str):
    return redirect("feed-tag", hashtag=hashtag)
