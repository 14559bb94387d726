"""The Django side of ``/<code>``: everything the hot path hands over (misses, passwords, limits, JSON)."""

from django.http import HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from core.ratelimit import client_ip
from core.views import page_not_found
from shortener.fastpath import CACHE_CONTROL
from shortener.services.links import is_reserved
from shortener.services.redirects import Outcome, Visit, redirect_follow

GONE_MESSAGE = "Link expired or deleted"


def _wants_json(request) -> bool:
    return "json" in request.headers.get("Accept", "")


def _gone(request) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": GONE_MESSAGE, "code": "link_gone"}, status=410)
    return render(request, "shortener/redirect/gone.html", status=410)


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
    decision = redirect_follow(
        code=code,
        visit=Visit(
            method=request.method,
            referrer=request.headers.get("Referer", ""),
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
            password=password,
        ),
    )
    if decision.outcome == Outcome.REDIRECT:
        response = HttpResponseRedirect(decision.location)
        response.status_code = decision.status
        response["Cache-Control"] = CACHE_CONTROL[decision.status]
        return response
    if decision.outcome == Outcome.NOT_FOUND:
        return page_not_found(request)
    if decision.outcome == Outcome.GONE:
        return _gone(request)
    context = {"code": code, "error": ""}
    status = 200
    if decision.outcome == Outcome.PASSWORD_WRONG:
        context["error"] = "That password is not right."
        status = 403
    elif decision.outcome == Outcome.RATE_LIMITED:
        context["error"] = "Too many attempts. Try again in a minute."
        status = 429
    if _wants_json(request) and status == 200:
        return JsonResponse({"error": "This link is protected by a password.", "code": "password_required"},
                            status=401)
    if _wants_json(request):
        code = "password_wrong" if status == 403 else "rate_limited"
        response = JsonResponse({"error": context["error"], "code": code}, status=status)
    else:
        response = render(request, "shortener/redirect/password.html", context, status=status)
    if decision.retry_after:
        response["Retry-After"] = str(decision.retry_after)
    return response
