"""The rides admin: rides are read-only and change only through the services; drivers can be
taken offline; service areas are edited (see test_geo)."""

import pytest
from django.contrib.messages import get_messages

from rides import store
from rides.models import DriverProfile, Ride, RideEvent, RideStatus
from tests.rides.conftest import PICKUP, offset

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, make_user):
    client.force_login(make_user("olga", is_staff=True, is_superuser=True))
    return client


def _shown(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_ride_list_and_page_show_the_ride_with_its_events(staff_client, ride_in):
    ride, _ = ride_in(RideStatus.ACCEPTED)

    assert staff_client.get("/admin/rides/ride/").status_code == 200
    response = staff_client.get(f"/admin/rides/ride/{ride.id}/change/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "accepted" in html and "offer" in html
    assert 'name="status"' not in html  # no editable status field


def test_a_ride_cannot_be_edited_added_or_deleted_in_the_admin(staff_client, ride_in):
    ride, _ = ride_in(RideStatus.ACCEPTED)

    staff_client.post(f"/admin/rides/ride/{ride.id}/change/", {"status": "completed"})
    assert staff_client.get("/admin/rides/ride/add/").status_code == 403
    assert staff_client.post(f"/admin/rides/ride/{ride.id}/delete/", {"post": "yes"}).status_code == 403

    ride.refresh_from_db()
    assert ride.status == RideStatus.ACCEPTED


def test_cancel_action_goes_through_the_service_and_charges_no_fee(staff_client, ride_in,
                                                                   django_capture_on_commit_callbacks):
    ride, driver = ride_in(RideStatus.ARRIVED)  # a rider cancelling now would pay the fee

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/rides/ride/", {"action": "cancel_rides", "_selected_action": [ride.id]})

    assert response.status_code == 302
    ride.refresh_from_db()
    assert ride.status == RideStatus.CANCELLED
    assert str(ride.cancellation_fee) == "0.00"
    assert ride.cancel_reason == "cancelled by staff (olga)"
    event = RideEvent.objects.filter(ride=ride).last()
    assert (event.from_status, event.to_status) == (RideStatus.ARRIVED, RideStatus.CANCELLED)
    assert store.drivers_state([driver.id]) == [store.DriverState.FREE]  # the driver is released
    assert _shown(response) == ["Cancelled 1."]


def test_cancel_action_before_assignment_and_on_a_finished_ride(staff_client, ride_in, make_user):
    requested, _ = ride_in(RideStatus.REQUESTED)
    completed = Ride.objects.create(
        rider=make_user(), status=RideStatus.COMPLETED, vehicle_type="economy", service_area=requested.service_area,
        pickup_lat=PICKUP[0], pickup_lng=PICKUP[1], pickup_cell="x", dropoff_lat=PICKUP[0], dropoff_lng=PICKUP[1],
        estimated_fare=1, surge_multiplier=1, distance_m=1, duration_s=1, currency="USD")

    response = staff_client.post("/admin/rides/ride/", {"action": "cancel_rides",
                                                        "_selected_action": [requested.id, completed.id]})

    requested.refresh_from_db()
    completed.refresh_from_db()
    assert requested.status == RideStatus.CANCELLED
    assert requested.cancelled_by == "rider"
    assert completed.status == RideStatus.COMPLETED
    assert set(_shown(response)) == {"Cancelled 1.", f"Ride {completed.id}: Not allowed while the ride is completed."}


def test_non_staff_cannot_open_the_rides_admin(client, make_user):
    client.force_login(make_user("mallory"))

    assert client.get("/admin/rides/ride/").status_code == 302


def test_driver_list_shows_who_is_online(staff_client, make_driver):
    online = make_driver(offset(PICKUP, 100), username="online_dan")
    offline = make_driver(offset(PICKUP, 200), username="offline_ola")
    store.driver_remove(offline.id)

    html = staff_client.get("/admin/rides/driverprofile/").content.decode()

    assert "online_dan" in html and "offline_ola" in html
    assert html.count('alt="True"') == 1
    assert DriverProfile.objects.get(user=online).vehicle_type == "economy"


def test_take_offline_action_uses_the_service_and_refuses_a_busy_driver(staff_client, make_driver, ride_in):
    idle = make_driver(offset(PICKUP, 3000), username="idle_ivo")
    _, busy = ride_in(RideStatus.ACCEPTED)

    response = staff_client.post("/admin/rides/driverprofile/", {
        "action": "take_offline", "_selected_action": [idle.id, busy.id]})

    assert store.driver_get(idle.id) is None
    assert store.driver_get(busy.id) is not None
    assert set(_shown(response)) == {f"{busy.username}: The driver has an active ride.", "Taken offline: 1."}


def test_a_drivers_vehicle_type_and_rating_are_read_only(staff_client, make_driver):
    driver = make_driver()

    staff_client.post(f"/admin/rides/driverprofile/{driver.id}/change/", {"vehicle_type": "xl", "rating": "1.00"})

    profile = DriverProfile.objects.get(user=driver)
    assert (profile.vehicle_type, str(profile.rating)) == ("economy", "5.00")


def test_staff_who_may_only_view_rides_get_no_cancel_action(client, make_user, ride_in):
    from django.contrib.auth.models import Permission

    viewer = make_user("vera", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_ride"))
    client.force_login(viewer)
    ride, _ = ride_in(RideStatus.ACCEPTED)

    page = client.get("/admin/rides/ride/")
    client.post("/admin/rides/ride/", {"action": "cancel_rides", "_selected_action": [ride.id]})

    assert page.status_code == 200
    assert "cancel_rides" not in page.content.decode()
    ride.refresh_from_db()
    assert ride.status == RideStatus.ACCEPTED


@pytest.mark.parametrize("change", ["edit", "delete one", "delete selected"])
def test_every_change_of_service_areas_in_the_admin_marks_the_processes_copies_stale(
        staff_client, django_capture_on_commit_callbacks, change):
    from rides.models import ServiceArea

    area = ServiceArea.objects.create(slug="oak", name="Oakland", polygon=[[37.78, -122.30], [37.84, -122.30],
                                                                           [37.78, -122.22]])
    before = store.areas_version()
    with django_capture_on_commit_callbacks(execute=True):
        if change == "edit":
            staff_client.post(f"/admin/rides/servicearea/{area.pk}/change/", {
                "slug": "oak", "name": "Oakland", "polygon": "[[37.78, -122.30], [37.85, -122.30], [37.78, -122.22]]"})
        elif change == "delete one":
            staff_client.post(f"/admin/rides/servicearea/{area.pk}/delete/", {"post": "yes"})
        else:
            staff_client.post("/admin/rides/servicearea/", {"action": "delete_selected", "_selected_action": [area.pk],
                                                            "post": "yes"})
    assert store.areas_version() != before
    assert change == "edit" or not ServiceArea.objects.filter(slug="oak").exists()
