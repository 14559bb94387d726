"""Response headers every page carries, and one answer for "Redis is down".

``SecurityHeadersMiddleware`` adds the Content-Security-Policy (scripts only from our
static files) and, when the public address is https, Strict-Transport-Security.

``ServiceUnavailableMiddleware`` turns a lost Redis connection anywhere in a view into a
503 (``{"error", "code": "service_unavailable"}`` under /api/, a page elsewhere) instead
of a 500; the 500 handler asks the same ``outage_response`` for failures raised outside
views (a session saved after the view, say). Redis clients reconnect on their own, so
the site recovers without a restart once Redis answers again.
"""

import logging

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpResponse
from django.template import loader

from core.errors import ApplicationError, CoreError, error_response

logger = logging.getLogger(__name__)

OUTAGE_MESSAGE = "A service this site depends on is unavailable; please try again shortly."
RETRY_AFTER_SECONDS = 5


def _outage_errors() -> tuple[type[BaseException], ...]:
    import redis.exceptions
    from django_redis.exceptions import ConnectionInterrupted
    from kombu.exceptions import OperationalError

    # redis-py's ConnectionError covers BusyLoadingError (a restarted Redis still reading its AOF);
    # django-redis wraps failures in ConnectionInterrupted; kombu raises OperationalError when the
    # broker is unreachable as a task is sent.
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionInterrupted, OperationalError)


def is_outage(exc: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) means Redis could not be reached."""
    errors = _outage_errors()
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, errors):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def outage_error() -> ApplicationError:
    """The outage as an ApplicationError, for handlers that render errors themselves (the hot path
    sends it with ``core.asgi.OUTAGE_HEADERS``): the same body as ``outage_response``."""
    return ApplicationError(OUTAGE_MESSAGE, CoreError.SERVICE_UNAVAILABLE, status=503)


def outage_response(request) -> HttpResponse:
    if wants_json(request):
        response = error_response(OUTAGE_MESSAGE, CoreError.SERVICE_UNAVAILABLE, 503)
    else:
        # No request context: the session and the user live in the service that is down.
        response = HttpResponse(loader.render_to_string("503.html", {"message": OUTAGE_MESSAGE}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DualModeMiddleware:
    """A middleware native in both modes, so an async stack never hops to a thread for it.

    Subclasses override ``before`` (its result is handed to ``after``) and ``after``.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        state = self.before(request)
        return self.after(request, self.get_response(request), state)

    async def _acall(self, request):
        state = self.before(request)
        return self.after(request, await self.get_response(request), state)

    def before(self, request):
        return None

    def after(self, request, response, state):
        return response


class ServiceUnavailableMiddleware(DualModeMiddleware):
    def process_exception(self, request, exception):
        if is_outage(exception):
            logger.warning("Redis unavailable answering %s: %r", request.path, exception)
            return outage_response(request)
        return None


class SecurityHeadersMiddleware(DualModeMiddleware):
    def after(self, request, response, state):
        add_security_headers(response)
        return response


def add_security_headers(response) -> None:
    """The headers every response of ours carries, whichever path produced it."""
    if settings.CONTENT_SECURITY_POLICY:
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if settings.PUBLIC_BASE_URL.startswith("https://") and settings.HSTS_SECONDS > 0:
        response.headers.setdefault("Strict-Transport-Security", f"max-age={settings.HSTS_SECONDS}; includeSubDomains")


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's /static/ handler (it runs before any middleware) plus our headers, nosniff above all.

    A path escaping the static directories (``..%2f``) raises SuspiciousFileOperation in Django's
    handler, out of the ASGI app; here it is a plain 404 like any missing file."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("Not found.") from None

    async def get_response_async(self, request):
        response = await super().get_response_async(request)
        add_security_headers(response)
        return response
