"""The rides admin: rides and their events read-only (a ride moves only through the services,
so each change is checked, stored as an event and announced), drivers, service areas."""

from django.contrib import admin, messages
from django.db import transaction

from core.errors import ApplicationError
from rides import pages, store
from rides.models import DRIVER_ACTIVE, DriverProfile, Rating, Ride, RideEvent, ServiceArea
from rides.services import drivers, trips


@admin.register(ServiceArea)
class ServiceAreaAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "active", "min_lat", "max_lat", "min_lng", "max_lng")
    readonly_fields = ("min_lat", "max_lat", "min_lng", "max_lng")

    def delete_queryset(self, request, queryset) -> None:
        # The bulk delete skips the model's delete(), which marks processes' copies of the areas stale.
        super().delete_queryset(request, queryset)
        transaction.on_commit(store.areas_version_bump, robust=True)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RideEventInline(ReadOnlyInline):
    model = RideEvent
    fields = ("at", "action", "from_status", "to_status", "actor", "driver", "reason")
    readonly_fields = fields


class RatingInline(ReadOnlyInline):
    model = Rating
    fields = ("side", "rater", "ratee", "stars", "comment", "created_at")
    readonly_fields = fields


def _report(modeladmin, request, done: int, failures: list[str], verb: str) -> None:
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)
    for failure in failures:
        modeladmin.message_user(request, failure, messages.ERROR)


@admin.register(Ride)
class RideAdmin(admin.ModelAdmin):
    """Every field is read-only: the state machine is the only way a ride changes."""

    list_display = ("id", "status", "vehicle_type", "rider", "driver", "estimated_fare", "fare_total", "requested_at")
    list_filter = ("status", "vehicle_type", "service_area")
    search_fields = ("=id", "rider__username", "driver__username")
    date_hierarchy = "requested_at"
    list_select_related = ("rider", "driver")
    inlines = [RideEventInline, RatingInline]
    actions = ["cancel_rides"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_cancel_permission(self, request) -> bool:
        # The fields are read-only for everyone; cancelling is what the change permission grants.
        return request.user.has_perm("rides.change_ride")

    @admin.action(description="Cancel the selected rides (through the ride service, no fee)", permissions=["cancel"])
    def cancel_rides(self, request, queryset):
        """Cancelled in the rider's name before a driver is assigned and in the driver's name after,
        so staff never charge a rider the late-cancellation fee; each reason names the staff member."""
        done, failures = 0, []
        for ride in queryset.select_related("rider", "driver"):
            party = ride.driver if ride.status in DRIVER_ACTIVE else ride.rider
            try:
                trips.ride_cancel(user=party, ride_id=ride.id, reason=f"cancelled by staff ({request.user.username})")
            except ApplicationError as exc:
                failures.append(f"Ride {ride.id}: {exc.message}")
            else:
                done += 1
        _report(self, request, done, failures, "Cancelled")


@admin.register(DriverProfile)
class DriverProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "vehicle_type", "rating", "rating_count", "online", "created_at")
    list_filter = ("vehicle_type",)
    search_fields = ("user__username",)
    list_select_related = ("user",)
    # The rating is the average of riders' stars, kept by the rating service.
    # The vehicle type is the one the driver goes online with (it names their search index).
    readonly_fields = ("user", "vehicle_type", "rating", "rating_count", "created_at")
    actions = ["take_offline"]

    def has_add_permission(self, request) -> bool:
        return False  # a driver profile is made by going online

    @admin.display(boolean=True, description="online")
    def online(self, obj: DriverProfile) -> bool:
        return pages.driver_online(obj.user_id)

    @admin.action(description="Take the selected drivers offline (an open offer is declined)", permissions=["change"])
    def take_offline(self, request, queryset):
        done, failures = 0, []
        for profile in queryset.select_related("user"):
            try:
                drivers.driver_offline(user=profile.user)
            except ApplicationError as exc:
                failures.append(f"{profile.user.username}: {exc.message}")
            else:
                done += 1
        _report(self, request, done, failures, "Taken offline:")
