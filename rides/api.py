"""REST API of ride dispatch: validate input, call a service or selector, return JSON."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.openapi import SIGNED_IN, SIGNED_IN_WRITE, error_responses
from core.pagination import PageNumberPagination
from rides import errors, geo, selectors
from rides.services import dispatch, drivers, pricing, sharing, trips

ROLES = ("rider", "driver")
VEHICLE_TYPES = ["economy", "comfort", "xl"]


# --- schema-documenting shapes (validation is the services' own, with the field named) ----------
class RidePointDoc(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lng = serializers.FloatField(min_value=-180, max_value=180)


class DriverOnlineIn(RidePointDoc):
    vehicle_type = serializers.ChoiceField(choices=VEHICLE_TYPES)


class DriverStateOut(serializers.Serializer):
    status = serializers.CharField()
    state = serializers.ChoiceField(choices=["free", "offered", "busy"], required=False)
    vehicle_type = serializers.CharField(required=False)
    service_area = serializers.CharField(required=False)


class LocationPointIn(RidePointDoc):
    heading = serializers.FloatField(required=False, min_value=0, max_value=360)
    speed = serializers.FloatField(required=False, min_value=0, help_text="m/s")
    ts = serializers.FloatField(required=False, help_text="Unix seconds")


class LocationIn(LocationPointIn):
    points = LocationPointIn(many=True, required=False, help_text="The batch form: up to 50 points instead")


class AcceptedOut(serializers.Serializer):
    accepted = serializers.IntegerField()


class RideMoneyOut(serializers.Serializer):
    amount = serializers.CharField(help_text="Decimal, two places")
    currency = serializers.CharField()


class EstimateOut(serializers.Serializer):
    fare = RideMoneyOut()
    surge_multiplier = serializers.FloatField()
    distance_m = serializers.IntegerField()
    duration_s = serializers.IntegerField()
    pickup_eta_s = serializers.IntegerField(allow_null=True)
    quote_id = serializers.CharField()
    quote_expires_at = serializers.DateTimeField()


class RideIn(serializers.Serializer):
    pickup = RidePointDoc()
    dropoff = RidePointDoc()
    vehicle_type = serializers.ChoiceField(choices=VEHICLE_TYPES)
    quote_id = serializers.CharField(required=False)


class RideReceiptOut(serializers.Serializer):
    currency = serializers.CharField()
    base = serializers.CharField()
    distance = serializers.CharField()
    time = serializers.CharField()
    surge = serializers.CharField()
    surge_multiplier = serializers.FloatField()
    cancellation_fee = serializers.CharField()
    total = serializers.CharField()


class RidePartyOut(serializers.Serializer):
    id = serializers.CharField()
    username = serializers.CharField()


class RideDriverOut(RidePartyOut):
    vehicle_type = serializers.CharField()
    rating = serializers.FloatField(allow_null=True)


class RideOut(serializers.Serializer):
    id = serializers.CharField(help_text="Snowflake")
    status = serializers.ChoiceField(choices=["requested", "offered", "accepted", "arrived", "in_progress",
                                              "completed", "cancelled", "no_drivers"])
    vehicle_type = serializers.CharField()
    rider = RidePartyOut()
    driver = RideDriverOut(allow_null=True)
    pickup = RidePointDoc()
    dropoff = RidePointDoc()
    fare = RideMoneyOut(help_text="The upfront estimate")
    surge_multiplier = serializers.FloatField()
    distance_m = serializers.IntegerField()
    duration_s = serializers.IntegerField()
    quote_id = serializers.CharField(allow_null=True)
    offer_expires_at = serializers.DateTimeField(allow_null=True)
    requested_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    arrived_at = serializers.DateTimeField(allow_null=True)
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancelled_by = serializers.CharField(allow_null=True, help_text="rider or driver")
    cancel_reason = serializers.CharField(allow_null=True)
    receipt = RideReceiptOut(allow_null=True, help_text="Once completed or cancelled")


class RidePageOut(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RideOut(many=True)


class DeclineOut(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField()


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(required=False, max_length=500)
    seen_status = serializers.ChoiceField(
        required=False, choices=["requested", "offered", "accepted", "arrived", "in_progress"],
        help_text="The status the caller saw; if the ride moved on since, 409 status_changed and nothing changes")


class ShareOut(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class RateIn(serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, max_length=500)


class RatingOut(RateIn):
    ride = serializers.CharField()
    side = serializers.ChoiceField(choices=["rider", "driver"])


class NearbyOut(serializers.Serializer):
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    distance_m = serializers.IntegerField()
    eta_s = serializers.IntegerField()
    driver = serializers.CharField(required=False, help_text="Staff only")


class SurgeOut(serializers.Serializer):
    cell = serializers.CharField(help_text="H3 index")
    resolution = serializers.IntegerField()
    multiplier = serializers.FloatField()
    updated_at = serializers.DateTimeField(allow_null=True)
# The errors each kind of operation answers (core.openapi documents their body).
READ_ERRORS = error_responses(*SIGNED_IN, 400)
RIDE_READ_ERRORS = error_responses(*SIGNED_IN, 404)
DRIVER_WRITE_ERRORS = error_responses(*SIGNED_IN_WRITE, 409)
RIDE_WRITE_ERRORS = error_responses(*SIGNED_IN_WRITE, 404, 409)

NEARBY_MAX_RADIUS_M = 5000
NEARBY_MAX_LIMIT = 50


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise errors.invalid("non_field_errors", "A JSON object is required.")
    return request.data


def _int_param(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid(name, "A whole number is required.") from None
    if not low <= value <= high:
        raise errors.invalid(name, f"Must be between {low} and {high}.")
    return value


def nearby_query(params) -> dict:
    """The query of ``GET drivers/nearby`` (a QueryDict), checked field by field; the DRF view and
    the hot handler (``rides.hot``) both call this."""
    vehicle_type = params.get("vehicle_type") or None
    query = {
        "lat": geo.parse_coordinate("lat", params.get("lat"), kind="lat"),
        "lng": geo.parse_coordinate("lng", params.get("lng"), kind="lng"),
        "radius_m": _int_param(params, "radius_m", 2000, 1, NEARBY_MAX_RADIUS_M),
        "limit": _int_param(params, "limit", 10, 1, NEARBY_MAX_LIMIT),
    }
    return query | {"vehicle_type": drivers.parse_vehicle_type(vehicle_type) if vehicle_type else None}


def _ride_out(ride) -> dict:
    return selectors.ride_payload(selectors.ride_with_relations(ride.id))


class DriverOnlineView(APIView):
    @extend_schema(summary="Go online at a position with a vehicle type", request=DriverOnlineIn,
                   responses={202: DriverStateOut, **DRIVER_WRITE_ERRORS})
    def post(self, request):
        data = _body(request)
        result = drivers.driver_online(user=request.user, vehicle_type=data.get("vehicle_type"),
                                       lat=data.get("lat"), lng=data.get("lng"))
        return Response(result, status=status.HTTP_202_ACCEPTED)


class DriverOfflineView(APIView):
    @extend_schema(summary="Go offline (an open offer is declined)", request=None,
                   responses={202: DriverStateOut, **DRIVER_WRITE_ERRORS})
    def post(self, request):
        drivers.driver_offline(user=request.user)
        return Response({"status": "offline"}, status=status.HTTP_202_ACCEPTED)


class DriverLocationView(APIView):
    @extend_schema(summary="Report a position, or a batch of up to 50 points", request=LocationIn,
                   responses={202: AcceptedOut, **DRIVER_WRITE_ERRORS})
    def post(self, request):
        accepted = drivers.driver_location(user=request.user, data=request.data)
        return Response({"accepted": accepted}, status=status.HTTP_202_ACCEPTED)


class EstimateView(APIView):
    @extend_schema(summary="An upfront fare with surge, held for 2 minutes as a quote", responses={200: EstimateOut, **READ_ERRORS},
                   parameters=[
        OpenApiParameter(name, float) for name in ("pickup_lat", "pickup_lng", "dropoff_lat", "dropoff_lng")
    ] + [OpenApiParameter("vehicle_type", str)])
    def get(self, request):
        params = request.query_params
        pickup = (geo.parse_coordinate("pickup_lat", params.get("pickup_lat"), kind="lat"),
                  geo.parse_coordinate("pickup_lng", params.get("pickup_lng"), kind="lng"))
        dropoff = (geo.parse_coordinate("dropoff_lat", params.get("dropoff_lat"), kind="lat"),
                   geo.parse_coordinate("dropoff_lng", params.get("dropoff_lng"), kind="lng"))
        vehicle_type = drivers.parse_vehicle_type(params.get("vehicle_type", "economy"))
        estimate = pricing.quote_create(owner=request.user, pickup=pickup, dropoff=dropoff, vehicle_type=vehicle_type)
        quote = estimate.quote
        return Response({
            "fare": {"amount": f"{quote.amount:.2f}", "currency": quote.currency},
            "surge_multiplier": float(quote.surge_multiplier),
            "distance_m": quote.distance_m,
            "duration_s": quote.duration_s,
            "pickup_eta_s": estimate.pickup_eta_s,
            "quote_id": str(quote.id),
            "quote_expires_at": quote.expires_at.isoformat(),
        })


class RideListView(APIView):
    @extend_schema(summary="The caller's rides as rider or driver, with itemised receipts",
                   operation_id="rides_history", responses={200: RidePageOut, **error_responses(*SIGNED_IN, 400, 404)},
                   parameters=[OpenApiParameter("role", str, enum=list(ROLES)), OpenApiParameter("page", int),
                               OpenApiParameter("page_size", int)])
    def get(self, request):
        role = request.query_params.get("role", "rider")
        if role not in ROLES:
            raise errors.invalid("role", "One of rider, driver.")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.ride_history(user=request.user, role=role), request, view=self)
        return paginator.get_paginated_response([selectors.ride_payload(ride) for ride in page])

    @extend_schema(summary="Request a ride (at a quote's price when quote_id is given)", request=RideIn,
                   responses={201: RideOut, **DRIVER_WRITE_ERRORS})
    def post(self, request):
        data = _body(request)
        ride = trips.ride_request(rider=request.user, pickup=data.get("pickup"), dropoff=data.get("dropoff"),
                                  vehicle_type=data.get("vehicle_type"), quote_id=data.get("quote_id"))
        return Response(_ride_out(ride), status=status.HTTP_201_CREATED)


class RideDetailView(APIView):
    @extend_schema(summary="One ride (its rider, its driver, staff)",
                   responses={200: RideOut, **RIDE_READ_ERRORS})
    def get(self, request, ride_id: str):
        return Response(selectors.ride_payload(selectors.ride_get(user=request.user, ride_id=ride_id)))


_DRIVER_ACTIONS = {
    "accept": dispatch.ride_accept,
    "arrive": trips.ride_arrive,
    "start": trips.ride_start,
    "complete": trips.ride_complete,
}


class RideDriverActionView(APIView):
    action_name = ""

    @extend_schema(summary="A driver's step: accept, arrive, start or complete", request=None,
                   responses={200: RideOut, **RIDE_WRITE_ERRORS})
    def post(self, request, ride_id: str):
        ride = _DRIVER_ACTIONS[self.action_name](driver=request.user, ride_id=ride_id)
        return Response(_ride_out(ride))


class RideDeclineView(APIView):
    @extend_schema(summary="Decline an offer (the dispatcher offers the next driver)", request=None,
                   responses={200: DeclineOut, **RIDE_WRITE_ERRORS})
    def post(self, request, ride_id: str):
        ride = dispatch.ride_decline(driver=request.user, ride_id=ride_id)
        # The ride is no longer the caller's: only its id and the status the decline left.
        return Response({"id": str(ride.id), "status": ride.status})


class RideCancelView(APIView):
    @extend_schema(summary="Cancel (rider or assigned driver); a late rider cancellation has a fee",
                   request=CancelIn, responses={200: RideOut, **RIDE_WRITE_ERRORS})
    def post(self, request, ride_id: str):
        data = _body(request)
        ride = trips.ride_cancel(user=request.user, ride_id=ride_id, reason=data.get("reason"),
                                 seen_status=data.get("seen_status"))
        return Response(_ride_out(ride))


class RideShareView(APIView):
    @extend_schema(summary="A read-only live-tracking link for someone without an account (rider only)",
                   request=None, responses={201: ShareOut, **RIDE_WRITE_ERRORS})
    def post(self, request, ride_id: str):
        link = sharing.ride_share(user=request.user, ride_id=ride_id)
        return Response({"url": link.url, "expires_at": link.expires_at.isoformat()}, status=status.HTTP_201_CREATED)


class RideRateView(APIView):
    @extend_schema(summary="Rate the other side of a completed ride, once", request=RateIn,
                   responses={201: RatingOut, **RIDE_WRITE_ERRORS})
    def post(self, request, ride_id: str):
        data = _body(request)
        rating = trips.ride_rate(user=request.user, ride_id=ride_id, stars=data.get("stars"),
                                 comment=data.get("comment"))
        return Response({"ride": str(rating.ride_id), "side": rating.side, "stars": rating.stars,
                         "comment": rating.comment}, status=status.HTTP_201_CREATED)


class NearbyDriversView(APIView):
    @extend_schema(summary="Free drivers near a point, nearest first (anonymous, ~100 m, except for staff)",
                   responses={200: NearbyOut(many=True), **READ_ERRORS}, parameters=[
                       OpenApiParameter("lat", float), OpenApiParameter("lng", float),
                       OpenApiParameter("radius_m", int), OpenApiParameter("limit", int),
                       OpenApiParameter("vehicle_type", str, enum=VEHICLE_TYPES)])
    def get(self, request):
        return Response(selectors.nearby_drivers(**nearby_query(request.query_params), exact=request.user.is_staff))


class SurgeView(APIView):
    @extend_schema(summary="The surge multiplier of a point's H3 cell", responses={200: SurgeOut, **READ_ERRORS},
                   parameters=[OpenApiParameter("lat", float), OpenApiParameter("lng", float)])
    def get(self, request):
        lat = geo.parse_coordinate("lat", request.query_params.get("lat"), kind="lat")
        lng = geo.parse_coordinate("lng", request.query_params.get("lng"), kind="lng")
        return Response(selectors.surge_at(lat, lng))
