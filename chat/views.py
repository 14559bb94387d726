"""Server-rendered chat pages: one shell page; the browser talks to the REST API and the socket."""

from django.contrib.auth.decorators import login_required
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chat.models import MAX_CONTENT_LENGTH

# Presence keys live 60 s; a ping every 25 s keeps an idle but open tab online.
PING_INTERVAL_SECONDS = 25


@login_required
@require_GET
def chat_page(request):
    config = {
        "me": request.user.get_username(),
        "api": "/api/v1/chat/",
        "socket_path": "/ws/chat/",
        "csrf_token": get_token(request),
        "max_length": MAX_CONTENT_LENGTH,
        "ping_interval": PING_INTERVAL_SECONDS,
    }
    return render(request, "chat/index.html", {"chat_config": config})
