"""Platform pages and endpoints: home, sign-up, log-in, health, metrics, error pages."""

import functools
import sys

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import BaseUserCreationForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core import health, metrics
from core.errors import ApplicationError, CoreError, FieldError, application_error_response, error_response
from core.middleware import is_outage, outage_response
from core.ratelimit import enforce_credential_limits
from core.selectors import api_token_of
from core.services import USERNAME_RULE, token_rotate, user_register, username_clean


class SignupForm(BaseUserCreationForm):
    username = forms.CharField(max_length=150, help_text=USERNAME_RULE)

    def clean_username(self) -> str:
        return username_clean(self.cleaned_data["username"])

    def _post_clean(self):  # the service validates and saves; keep the form's own checks only
        pass


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def credential_limited(view):
    """Apply the credential limits (core.ratelimit) to a view's POSTs.

    A refused POST gets 429 with Retry-After: a page saying how long to wait, or
    the JSON error for API clients. The username, when posted, has its own bucket.
    """

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.method == "POST":
            try:
                enforce_credential_limits(request, request.POST.get("username"))
            except ApplicationError as exc:
                if _wants_json(request):
                    return application_error_response(exc)
                minutes = max(1, -(-exc.extra["retry_after"] // 60))
                response = render(request, "registration/too_many_attempts.html", {"minutes": minutes}, status=429)
                response["Retry-After"] = str(exc.extra["retry_after"])
                return response
        return view(request, *args, **kwargs)

    return limited


@method_decorator(credential_limited, name="dispatch")
class LoginView(auth_views.LoginView):
    """Django's log-in page behind the credential limits."""


@method_decorator(credential_limited, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's password change, behind the credential limits (the old password is a guessable credential).

    Other sessions of the user are signed out by Django's session hash check, and their open sockets
    are closed (core.sessions); this session stays signed in.
    """

    success_url = reverse_lazy("account")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Your password is changed. Everywhere else you were signed in is signed out.")
        return response


@credential_limited
def admin_login(request):
    """The admin's log-in page behind the same limits as the site's."""
    return admin.site.login(request)


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


@credential_limited
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
            login(request, user, backend="core.backends.UsernameBackend")
            return redirect(_safe_next(request) or "home")
    return render(request, "registration/signup.html", {"form": form})


@never_cache
@login_required
@require_GET
def account(request):
    return render(request, "registration/account.html", {"token": api_token_of(request.user)})


@never_cache
@login_required
@require_POST
def account_token_rotate(request):
    token_rotate(user=request.user)
    messages.success(request, "Your new token is ready. The old one no longer works.")
    return redirect("account")


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
        return error_response("A valid metrics scrape token is required.", CoreError.PERMISSION_DENIED, 403)
    return HttpResponse(metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8")


# Error handlers (handler400/403/404/500 in config.urls). API clients get the one
# JSON error body with a fixed message: never the exception's text, a path or a setting.


def bad_request(request, exception=None):
    if _wants_json(request):
        return error_response("Bad request.", CoreError.BAD_REQUEST, 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if _wants_json(request):
        return error_response("You do not have permission to do this.", CoreError.PERMISSION_DENIED, 403)
    return defaults.permission_denied(request, exception)


def csrf_failure(request, reason=""):
    if _wants_json(request):
        return error_response("CSRF check failed; reload the page and try again.", CoreError.CSRF_FAILED, 403)
    from django.views.csrf import csrf_failure as django_csrf_failure

    return django_csrf_failure(request, reason)


def page_not_found(request, exception=None):
    if _wants_json(request):
        return error_response("Not found.", CoreError.NOT_FOUND, 404)
    return render(request, "404.html", {"message": "Not found."}, status=404)


def server_error(request):
    if is_outage(sys.exc_info()[1]):  # Redis lost outside a view (a session saved afterwards…)
        return outage_response(request)
    if _wants_json(request):
        return error_response("Internal server error.", CoreError.SERVER_ERROR, 500)
    # Rendered without the request context: whatever broke may be the database.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
