"""Ride dispatch data: drivers, service areas, quotes, rides with their event log, ratings.

Live positions and driver states live in Redis (see store.py); the database holds what must
survive and what races are decided on: a ride's status under its row lock, one active ride per
rider and per driver (partial unique constraints), one rating per side.
"""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from core.snowflake import next_id
from rides import store
from rides.geo import point_in_polygon


class VehicleType(models.TextChoices):
    ECONOMY = "economy"
    COMFORT = "comfort"
    XL = "xl"


class RideStatus(models.TextChoices):
    REQUESTED = "requested"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    ARRIVED = "arrived"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_DRIVERS = "no_drivers"


# A rider has at most one ride in these states; a driver at most one in DRIVER_ACTIVE.
RIDER_ACTIVE = (
    RideStatus.REQUESTED, RideStatus.OFFERED, RideStatus.ACCEPTED, RideStatus.ARRIVED, RideStatus.IN_PROGRESS,
)
DRIVER_ACTIVE = (RideStatus.ACCEPTED, RideStatus.ARRIVED, RideStatus.IN_PROGRESS)


class ServiceArea(models.Model):
    """A polygon of ``[[lat, lng], …]`` where rides may start; its bounding box filters cheaply first."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    polygon = models.JSONField()
    min_lat = models.FloatField(editable=False)
    max_lat = models.FloatField(editable=False)
    min_lng = models.FloatField(editable=False)
    max_lng = models.FloatField(editable=False)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        lats = [p[0] for p in self.polygon]
        lngs = [p[1] for p in self.polygon]
        self.min_lat, self.max_lat, self.min_lng, self.max_lng = min(lats), max(lats), min(lngs), max(lngs)
        super().save(*args, **kwargs)
        self._areas_changed()

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        self._areas_changed()
        return deleted

    @staticmethod
    def _areas_changed() -> None:
        # Processes keep the active areas in memory (selectors.service_area_map): once this change
        # commits, the writes relying on an older copy are refused until it is reloaded.
        transaction.on_commit(store.areas_version_bump, robust=True)

    def clean(self) -> None:
        polygon = self.polygon
        if not (isinstance(polygon, list) and len(polygon) >= 3 and all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)
            and -90 <= p[0] <= 90 and -180 <= p[1] <= 180 for p in polygon
        )):
            raise ValidationError({"polygon": "At least three [lat, lng] points with coordinates in range."})

    def contains(self, lat: float, lng: float) -> bool:
        return (self.min_lat <= lat <= self.max_lat and self.min_lng <= lng <= self.max_lng
                and point_in_polygon(lat, lng, self.polygon))


class DriverProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="driver_profile")
    vehicle_type = models.CharField(max_length=10, choices=VehicleType.choices)
    rating = models.DecimalField(max_digits=3, decimal_places=2, default=Decimal("5.00"))
    rating_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"driver {self.user_id} ({self.vehicle_type})"


class DriverLocation(models.Model):
    """A position a driver reported: the location history, stored in batches from the history
    stream (``services.history``), never on the reporting request's path."""

    # No foreign-key check on each inserted row; the unique index below leads with the driver.
    driver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                               db_constraint=False, db_index=False)
    recorded_at = models.DateTimeField()  # the point's ``ts``, or when it reached us
    seq = models.PositiveSmallIntegerField()  # its place among the points written together
    lat = models.FloatField()
    lng = models.FloatField()
    heading = models.FloatField(null=True, blank=True)
    speed = models.FloatField(null=True, blank=True)

    class Meta:
        # A batch stored again (its entry read again after a crash before the acknowledgement)
        # adds nothing; the index also serves a driver's track over time.
        constraints = [models.UniqueConstraint(fields=["driver", "recorded_at", "seq"], name="rides_location_once")]

    def __str__(self) -> str:
        return f"driver {self.driver_id} at {self.lat}, {self.lng}"


class Quote(models.Model):
    """An upfront price held for its owner until ``expires_at``; a ride uses it at most once."""

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ride_quotes")
    vehicle_type = models.CharField(max_length=10, choices=VehicleType.choices)
    pickup_lat = models.FloatField()
    pickup_lng = models.FloatField()
    dropoff_lat = models.FloatField()
    dropoff_lng = models.FloatField()
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    surge_multiplier = models.DecimalField(max_digits=4, decimal_places=2)
    distance_m = models.PositiveIntegerField()
    duration_s = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"quote {self.id}"


class Ride(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    rider = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rides_as_rider")
    # The driver holding the offer (status offered) or assigned (accepted onwards).
    driver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="rides_as_driver")
    status = models.CharField(max_length=12, choices=RideStatus.choices, default=RideStatus.REQUESTED)
    vehicle_type = models.CharField(max_length=10, choices=VehicleType.choices)
    service_area = models.ForeignKey(ServiceArea, on_delete=models.PROTECT, related_name="rides")
    pickup_lat = models.FloatField()
    pickup_lng = models.FloatField()
    pickup_cell = models.CharField(max_length=16)
    dropoff_lat = models.FloatField()
    dropoff_lng = models.FloatField()
    quote = models.OneToOneField(Quote, null=True, blank=True, on_delete=models.SET_NULL, related_name="ride")
    # The upfront estimate (from the quote) and the surge it locked in.
    estimated_fare = models.DecimalField(max_digits=10, decimal_places=2)
    surge_multiplier = models.DecimalField(max_digits=4, decimal_places=2)
    distance_m = models.PositiveIntegerField()
    duration_s = models.PositiveIntegerField()
    # The itemised receipt, filled on completion (or the fee alone on a late cancellation).
    currency = models.CharField(max_length=3)
    fare_base = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    fare_distance = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    fare_time = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    fare_surge = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    cancellation_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    fare_total = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    offer_round = models.PositiveIntegerField(default=0)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=10, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rider"], condition=Q(status__in=RIDER_ACTIVE),
                                    name="rides_one_active_ride_per_rider"),
            models.UniqueConstraint(fields=["driver"], condition=Q(status__in=DRIVER_ACTIVE),
                                    name="rides_one_active_ride_per_driver"),
        ]
        indexes = [
            models.Index(fields=["rider", "-requested_at"], name="rides_ride_rider_recent"),
            models.Index(fields=["driver", "-requested_at"], name="rides_ride_driver_recent"),
            models.Index(fields=["status", "offer_expires_at"], name="rides_ride_status_offer"),
            models.Index(fields=["requested_at", "pickup_cell"], name="rides_ride_recent_cell"),
        ]

    def __str__(self) -> str:
        return f"ride {self.id} ({self.status})"


class RideEvent(models.Model):
    """One stored transition: when, who (null: the dispatcher), from → to, why."""

    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    action = models.CharField(max_length=20)
    from_status = models.CharField(max_length=12, choices=RideStatus.choices)
    to_status = models.CharField(max_length=12, choices=RideStatus.choices)
    # The driver the ride was with when it moved: a declined or timed-out offer is never repeated.
    driver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.ride_id}: {self.from_status} → {self.to_status}"


class Rating(models.Model):
    class Side(models.TextChoices):
        RIDER = "rider"  # the rider rates the driver
        DRIVER = "driver"  # the driver rates the rider

    ride = models.ForeignKey(Ride, on_delete=models.CASCADE, related_name="ratings")
    side = models.CharField(max_length=6, choices=Side.choices)
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ratee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ride_ratings")
    stars = models.PositiveSmallIntegerField()
    comment = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ride", "side"], name="rides_rating_once_per_side"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rides_rating_stars_1_5"),
        ]

    def __str__(self) -> str:
        return f"{self.stars}★ on {self.ride_id} by {self.side}"
