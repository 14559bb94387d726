"""Platform pages and endpoints: home, sign-up, health, metrics, error pages."""

import sys

from django.contrib.auth import login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import health, metrics
from core.errors import FieldError
from core.middleware import is_outage, outage_response
from core.services import user_register


class SignupForm(UserCreationForm):
    def _post_clean(self):  # the service validates and saves; keep the form's own checks only
        pass


def _safe_next(request) -> str | None:
    """The ``next`` page to return to, only if it stays on this site (no open redirect)."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def home(request):
    return render(request, "home.html")


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user, _ = user_register(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except FieldError as exc:
            for field, messages in exc.extra["fields"].items():
                form.add_error("password2" if field == "password" else field, messages)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect(_safe_next(request) or "home")
    return render(request, "registration/signup.html", {"form": form})


@never_cache
@require_GET
def healthz(request):
    checks = health.run_checks()
    healthy = all(result == "ok" for result in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503)


@never_cache
@require_GET
def metrics_view(request):
    if not metrics.scrape_authorized(request):
        return JsonResponse({"error": "A valid metrics scrape token is required.", "code": "permission_denied"}, status=403)
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


def _error_page(request, status: int, template: str, message: str):
    if "application/json" in request.headers.get("Accept", "") or request.path.startswith("/api/"):
        return JsonResponse({"error": message, "code": {404: "not_found", 500: "server_error"}.get(status, "error")}, status=status)
    return render(request, template, {"message": message}, status=status)


def page_not_found(request, exception=None):
    return _error_page(request, 404, "404.html", "Not found.")


def server_error(request):
    if is_outage(sys.exc_info()[1]):  # Redis lost outside a view (a session saved afterwards…)
        return outage_response(request)
    # Rendered without the request context: whatever broke may be the database.
    if "application/json" in request.headers.get("Accept", "") or request.path.startswith("/api/"):
        return JsonResponse({"error": "Internal server error.", "code": "server_error"}, status=500)
    return HttpResponse(loader.render_to_string("500.html"), status=500)
