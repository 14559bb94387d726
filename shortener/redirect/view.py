"""The Django view of ``/<code>``: everything the hot path hands over (passwords, limits, JSON, outages)."""

import functools

from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import render
from django.template import loader
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from core.errors import CoreError, application_error_response, error_response
from core.ratelimit import Decision as RateDecision
from core.ratelimit import client_ip, rate_limited_error
from core.views import page_not_found
from shortener.errors import ShortenerErrorCode
from shortener.redirect.service import (
    CACHE_CONTROL,
    Outcome,
    Visit,
    redirect_follow,
    visit_id_for,
    visit_sent_to_redis,
)
from shortener.services.links import is_reserved

GONE_MESSAGE = "Link expired or deleted"
_PASSWORD_ERROR_CODES = {
    403: ShortenerErrorCode.PASSWORD_WRONG,
    429: CoreError.RATE_LIMITED,
    503: ShortenerErrorCode.PASSWORD_UNAVAILABLE,
}
NOT_FOUND_MESSAGE = "Not found."  # what core.views.page_not_found says


def _wants_json(request) -> bool:
    return "json" in request.headers.get("Accept", "")


def _gone(request) -> HttpResponse:
    if _wants_json(request):
        return error_response(GONE_MESSAGE, ShortenerErrorCode.LINK_GONE, 410)
    return render(request, "shortener/redirect/gone.html", status=410)


@functools.cache
def anonymous_not_found_page() -> bytes:
    """The 404 page a signed-out visitor of ``/<code>`` gets, rendered once (the hot path serves it)."""
    return loader.render_to_string("404.html", {"message": NOT_FOUND_MESSAGE}).encode()


def _too_many_unknown(request, retry_after: int) -> HttpResponse:
    error = rate_limited_error(RateDecision(allowed=False, retry_after=retry_after))
    if _wants_json(request):
        response = application_error_response(error)
    else:
        response = HttpResponse(error.message, status=error.status, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(retry_after)
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "HEAD", "POST"])
def follow(request, code: str) -> HttpResponse:
    if is_reserved(code):
        # This catch-all shadows APPEND_SLASH for "/links" and friends: do its job here.
        try:
            resolve(f"/{code}/")
        except Resolver404:
            return page_not_found(request)
        return HttpResponsePermanentRedirect(f"/{code}/")
    password = request.POST.get("password", "") if request.method == "POST" else None
    scope = getattr(request, "scope", None)
    decision = redirect_follow(
        code=code,
        visit=Visit(
            method=request.method,
            referrer=request.headers.get("Referer", ""),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            password=password,
            visit_id=visit_id_for(scope),
            sent_to_redis=visit_sent_to_redis(scope),
        ),
    )
    if decision.outcome == Outcome.REDIRECT:
        response = HttpResponseRedirect(decision.location)
        response.status_code = decision.status
        response["Cache-Control"] = CACHE_CONTROL[decision.status]
        return response
    if decision.outcome == Outcome.NOT_FOUND:
        return page_not_found(request)
    if decision.outcome == Outcome.TOO_MANY_UNKNOWN:
        return _too_many_unknown(request, decision.retry_after)
    if decision.outcome == Outcome.GONE:
        return _gone(request)
    context = {"short_code": code, "error": ""}
    status = 200
    if decision.outcome == Outcome.PASSWORD_WRONG:
        context["error"] = "That password is not right."
        status = 403
    elif decision.outcome == Outcome.RATE_LIMITED:
        context["error"] = "Too many attempts. Try again in a minute."
        status = 429
    elif decision.outcome == Outcome.PASSWORD_UNAVAILABLE:
        context["error"] = "Passwords cannot be checked for a moment. Try again shortly."
        status = 503
    if _wants_json(request) and status == 200:
        return error_response("This link is protected by a password.", ShortenerErrorCode.PASSWORD_REQUIRED, 401)
    if _wants_json(request):
        error_code = _PASSWORD_ERROR_CODES[status]
        response = error_response(context["error"], error_code, status)
    else:
        response = render(request, "shortener/redirect/password.html", context, status=status)
    if decision.retry_after:
        response["Retry-After"] = str(decision.retry_after)
    return response
