"""Server-rendered shortener pages. They only render templates; data reaches the
page through the REST API from the scripts in static/shortener/."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFound
from shortener.selectors import link_get_for_owner


@require_GET
@login_required
def links_page(request):
    return render(request, "shortener/links.html")


@require_GET
@login_required
def link_dashboard(request, code: str):
    try:
        link = link_get_for_owner(owner=request.user, code=code)
    except NotFound:
        raise Http404("Link not found.")
    return render(request, "shortener/dashboard.html", {"short_code": link.short_code})
