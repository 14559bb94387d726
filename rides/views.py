"""Server-rendered rides pages: shells whose scripts talk to the REST API, plus the page-only
JSON reads of the driver page and the operations dashboard (rides/pages.py)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import ApplicationError, CoreError, application_error_response, error_response
from rides import pages
from rides.models import VehicleType


def _tile_origin() -> str:
    parts = urlsplit(settings.RIDES_TILE_URL)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def _with_tiles(response):
    """The platform CSP, with the tile server's origin allowed as an image source."""
    origin = _tile_origin()
    policy = settings.CONTENT_SECURITY_POLICY
    if origin and policy and "img-src " in policy:
        response.headers["Content-Security-Policy"] = policy.replace("img-src ", f"img-src {origin} ", 1)
    return response


def _map_page(request, template: str, **config):
    config = {
        "tile_url": settings.RIDES_TILE_URL,
        "tile_attribution": settings.RIDES_TILE_ATTRIBUTION,
        "center": pages.default_center(),
        "service_areas": pages.service_area_outlines(),
        "vehicle_types": list(VehicleType.values),
        "csrf_token": get_token(request),
        **config,
    }
    return _with_tiles(render(request, template, {"rides_config": config}))


@require_GET
@login_required
def rider_page(request):
    return _map_page(request, "rides/rider.html", me=request.user.get_username())


@require_GET
@login_required
def driver_page(request):
    return _map_page(request, "rides/driver.html", me=request.user.get_username(),
                     location_interval_s=4, offer_seconds=settings.DISPATCH_OFFER_SECONDS)


@require_GET
def driver_state(request):
    if not request.user.is_authenticated:
        return error_response("Log in first.", CoreError.NOT_AUTHENTICATED, 401)
    return JsonResponse(pages.driver_day(user=request.user))


@require_GET
def ride_tracking(request, ride_id: str):
    if not request.user.is_authenticated:
        return error_response("Log in first.", CoreError.NOT_AUTHENTICATED, 401)
    try:
        return JsonResponse(pages.ride_tracking(user=request.user, ride_id=ride_id))
    except ApplicationError as exc:
        return application_error_response(exc)


@require_GET
def share_page(request, token: str):
    """A read-only live view of a ride for anyone holding its share link (no account needed)."""
    shared = pages.share_view(token)
    if shared is None:
        response = render(request, "rides/share_gone.html", status=404)
        response["Referrer-Policy"] = "no-referrer"
        return response
    response = _map_page(request, "rides/share.html", **shared)
    # The token is in the path: it must not travel to the tile server (or anywhere) as a referrer.
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def operations_page(request):
    if not request.user.is_staff:
        return render(request, "403.html", {"message": "The operations dashboard is for staff."}, status=403)
    return _map_page(request, "rides/operations.html", refresh_s=5, service_areas=[])


@require_GET
def operations_data(request):
    if not request.user.is_authenticated:
        return error_response("Log in first.", CoreError.NOT_AUTHENTICATED, 401)
    if not request.user.is_staff:
        return error_response("The operations dashboard is for staff.", CoreError.PERMISSION_DENIED, 403)
    return JsonResponse(pages.operations_overview())
