"""The rides pages: login-protected shells with their config, the page-only JSON reads (driver's
day, ride tracking, operations figures), their permissions, and a CSP that allows only the tiles."""

import json
import re
import time
from datetime import timedelta

import h3
import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from rides import store
from rides.models import Ride, RideStatus
from rides.services import drivers
from tests.fixtures.static_modules import static_module_graph
from tests.rides.conftest import PICKUP, offset

pytestmark = pytest.mark.django_db

PAGES = ["/rides/", "/rides/drive/", "/rides/ops/"]


@pytest.fixture
def browser_for():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def staff(make_user):
    return make_user("olga", is_staff=True)


def _config(html: str) -> dict:
    match = re.search(r'<script id="rides-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page embeds its configuration"
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_login(path):
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={path}")


def test_rider_page_renders_map_form_and_ride_card(browser_for, rider):
    response = browser_for(rider).get("/rides/")

    assert response.status_code == 200
    html = response.content.decode()
    for test_id in ("rider-app", "map", "pickup-lat", "pickup-lng", "dropoff-lat", "dropoff-lng", "vehicle-type",
                    "estimate", "request", "ride-status", "eta", "cancel", "rate-form", "receipt"):
        assert f'data-testid="{test_id}"' in html, test_id
    assert '<script type="module" src="/static/rides/rider.js"></script>' in html
    assert '<script src="/static/rides/vendor/leaflet/leaflet.js"></script>' in html


def test_driver_page_renders_online_form_offer_and_trip_cards(browser_for, rider):
    html = browser_for(rider).get("/rides/drive/").content.decode()

    for test_id in ("driver-app", "map", "go-online", "go-offline", "offer-card", "offer-countdown", "accept",
                    "decline", "trip-card", "advance", "earnings"):
        assert f'data-testid="{test_id}"' in html, test_id
    config = _config(html)
    assert config["offer_seconds"] == 15
    assert config["location_interval_s"] == 4


def test_config_carries_tiles_vehicle_types_and_a_center_inside_the_service_area(browser_for, rider,
                                                                                 default_service_area, settings):
    settings.RIDES_TILE_URL = "https://tiles.example.test/{z}/{x}/{y}.png"

    config = _config(browser_for(rider).get("/rides/").content.decode())

    assert config["tile_url"] == "https://tiles.example.test/{z}/{x}/{y}.png"
    assert config["vehicle_types"] == ["economy", "comfort", "xl"]
    assert config["me"] == "rita"
    assert default_service_area.contains(*config["center"])
    assert config["service_areas"] == [{"slug": "sf", "name": "San Francisco", "polygon": default_service_area.polygon}]


def test_config_escapes_hostile_usernames(browser_for, make_user):
    html = browser_for(make_user("x</script><b>")).get("/rides/").content.decode()

    assert "</script><b>" not in html
    assert _config(html)["me"] == "x</script><b>"


def test_csp_allows_the_tile_origin_as_an_image_source_and_nothing_else(browser_for, rider, settings):
    settings.RIDES_TILE_URL = "https://tiles.example.test:8443/osm/{z}/{x}/{y}.png"

    policy = browser_for(rider).get("/rides/")["Content-Security-Policy"]

    assert "img-src https://tiles.example.test:8443 'self' data: blob:;" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy


def test_a_tile_url_without_an_http_origin_leaves_the_platform_csp(browser_for, rider, settings):
    settings.RIDES_TILE_URL = "/tiles/{z}/{x}/{y}.png"

    assert browser_for(rider).get("/rides/")["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script(browser_for, staff, path):
    html = browser_for(staff).get(path).content.decode()

    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


@pytest.mark.parametrize("entry", ["rides/rider.js", "rides/driver.js", "rides/operations.js"])
def test_every_module_an_entry_imports_is_a_static_file(entry):
    assert {entry, "rides/common.js", "rides/map.js"} <= static_module_graph(entry)


def test_leaflet_is_vendored_with_its_licence():
    for name in ("leaflet.js", "leaflet.css", "LICENSE", "images/marker-icon.png"):
        assert finders.find(f"rides/vendor/leaflet/{name}"), name
    with open(finders.find("rides/vendor/leaflet/leaflet.js"), encoding="utf-8") as handle:
        assert "Leaflet 1.9.4" in handle.read(300)


def test_navigation_links_to_rides(browser_for, rider):
    html = browser_for(rider).get("/rides/").content.decode()

    assert '<a href="/rides/" aria-current="page">Rides</a>' in html


# --- operations dashboard -----------------------------------------------------------------
def test_operations_page_is_for_staff_only(browser_for, rider, staff):
    assert browser_for(rider).get("/rides/ops/").status_code == 403
    response = browser_for(staff).get("/rides/ops/")
    assert response.status_code == 200
    assert 'data-testid="ops-app"' in response.content.decode()


def test_operations_tab_shows_only_for_staff(browser_for, rider, staff):
    assert "/rides/ops/" not in browser_for(rider).get("/rides/").content.decode()
    assert 'href="/rides/ops/"' in browser_for(staff).get("/rides/").content.decode()


def test_operations_data_refuses_anonymous_and_non_staff(browser_for, rider):
    anonymous = Client().get("/rides/ops/data")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    member = browser_for(rider).get("/rides/ops/data")
    assert member.status_code == 403
    assert member.json() == {"error": "The operations dashboard is for staff.", "code": "permission_denied"}


def test_operations_data_counts_online_drivers_by_vehicle_type_and_state(browser_for, staff, make_driver, ride_in):
    make_driver(offset(PICKUP, 3000), "comfort")
    make_driver(offset(PICKUP, 3100), "comfort")
    make_driver(offset(PICKUP, 3200), "xl")
    ride_in(RideStatus.ACCEPTED)  # its economy driver is busy

    data = browser_for(staff).get("/rides/ops/data").json()

    by_type = {row["vehicle_type"]: row for row in data["drivers_by_type"]}
    assert by_type["economy"] == {"vehicle_type": "economy", "free": 0, "offered": 0, "busy": 1, "total": 1}
    assert by_type["comfort"]["free"] == 2
    assert by_type["xl"]["total"] == 1
    assert len(data["drivers"]) == 4
    assert {d["state"] for d in data["drivers"]} == {"free", "busy"}


def test_operations_data_leaves_out_silent_drivers(browser_for, staff, make_driver, settings):
    driver = make_driver(offset(PICKUP, 3000))
    store.driver_put(driver_id=driver.id, fields={}, area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1],
                     seen=time.time() - settings.DRIVER_STALE_SECONDS - 5, reindex=False)

    data = browser_for(staff).get("/rides/ops/data").json()

    assert sum(row["total"] for row in data["drivers_by_type"]) == 0
    assert data["drivers"] == []


def test_operations_data_counts_rides_of_the_last_day_by_state(browser_for, staff, ride_in, make_user):
    ride_in(RideStatus.COMPLETED)
    Ride.objects.create(rider=make_user(), status=RideStatus.CANCELLED, vehicle_type="economy",
                        service_area_id=Ride.objects.first().service_area_id, pickup_lat=PICKUP[0],
                        pickup_lng=PICKUP[1], pickup_cell="x", dropoff_lat=PICKUP[0], dropoff_lng=PICKUP[1],
                        estimated_fare=1, surge_multiplier=1, distance_m=1, duration_s=1, currency="USD")
    stale = Ride.objects.filter(status=RideStatus.CANCELLED).get()
    Ride.objects.filter(pk=stale.pk).update(requested_at=timezone.now() - timedelta(hours=25))

    data = browser_for(staff).get("/rides/ops/data").json()

    counts = {row["status"]: row["count"] for row in data["rides_by_state"]}
    assert counts["completed"] == 1
    assert counts["cancelled"] == 0
    assert list(counts) == [s.value for s in RideStatus]


def test_operations_data_draws_published_surge_cells_as_hexagons(browser_for, staff):
    cell = h3.latlng_to_cell(*PICKUP, 8)
    store.surge_publish({cell: 1.5}, now=time.time())

    data = browser_for(staff).get("/rides/ops/data").json()

    assert data["surge"]["resolution"] == 8
    [drawn] = data["surge"]["cells"]
    assert drawn["cell"] == cell
    assert drawn["multiplier"] == 1.5
    assert len(drawn["boundary"]) == 6
    assert h3.latlng_to_cell(*drawn["boundary"][0], 8) in h3.grid_disk(cell, 1)


def test_operations_data_gives_request_to_offer_times(browser_for, staff, ride_in):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    first_offer = ride.events.filter(action="offer").first().at

    data = browser_for(staff).get("/rides/ops/data").json()

    [row] = data["dispatch_times"]
    assert row["ride"] == str(ride.id)
    assert row["ms"] == round((first_offer - ride.requested_at).total_seconds() * 1000)
    assert data["service_areas"][0]["slug"] == "sf"


def test_operations_data_queries_do_not_grow_with_drivers(browser_for, staff, make_driver,
                                                          django_assert_max_num_queries):
    client = browser_for(staff)
    for i in range(12):
        make_driver(offset(PICKUP, 100 * i))
    with django_assert_max_num_queries(8):
        assert client.get("/rides/ops/data").status_code == 200


# --- the driver's day -----------------------------------------------------------------------
def test_driver_state_needs_a_login():
    response = Client().get("/rides/drive/state")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_driver_state_of_an_offline_user(browser_for, rider):
    data = browser_for(rider).get("/rides/drive/state").json()

    assert data == {"online": False, "state": None, "vehicle_type": None, "position": None, "ride": None,
                    "earnings": {"amount": "0.00", "currency": "USD", "rides": 0}}


def test_driver_state_of_an_online_driver_with_an_offer(browser_for, make_driver, request_ride, rider):
    driver = make_driver(offset(PICKUP, 200), "economy")
    ride = request_ride(rider)

    data = browser_for(driver).get("/rides/drive/state").json()

    assert data["online"] is True
    assert data["state"] == "offered"
    assert data["vehicle_type"] == "economy"
    assert data["ride"] == str(ride.id)
    assert data["position"]["lat"] == pytest.approx(offset(PICKUP, 200)[0])


def test_driver_earnings_add_up_todays_completed_rides_only(browser_for, ride_in):
    ride, driver = ride_in(RideStatus.COMPLETED)
    Ride.objects.filter(pk=ride.pk).update(fare_total="12.34")
    client = browser_for(driver)
    assert client.get("/rides/drive/state").json()["earnings"] == {"amount": "12.34", "currency": "USD", "rides": 1}

    Ride.objects.filter(pk=ride.pk).update(completed_at=timezone.now() - timedelta(days=2))

    assert client.get("/rides/drive/state").json()["earnings"]["rides"] == 0


def test_driver_state_after_going_offline(browser_for, make_driver):
    driver = make_driver()
    drivers.driver_offline(user=driver)

    data = browser_for(driver).get("/rides/drive/state").json()

    assert data["online"] is False
    assert data["vehicle_type"] == "economy"


# --- ride tracking ----------------------------------------------------------------------------
def test_rider_tracks_the_accepted_driver_with_an_eta(browser_for, ride_in, rider):
    ride, driver = ride_in(RideStatus.ACCEPTED)

    status, location = browser_for(rider).get(f"/rides/{ride.id}/track").json()["frames"]

    assert status["type"] == "ride.status"
    assert status["status"] == "accepted"
    assert status["driver"]["username"] == driver.username
    assert location["type"] == "driver.location"
    assert location["lat"] == pytest.approx(offset(PICKUP, 200)[0])
    assert 0 < location["eta_s"] < 120


def test_tracking_hides_an_offered_driver(browser_for, make_driver, request_ride, rider):
    make_driver(offset(PICKUP, 200))
    ride = request_ride(rider)
    assert ride.status == RideStatus.OFFERED

    [status] = browser_for(rider).get(f"/rides/{ride.id}/track").json()["frames"]

    assert status["status"] == "offered"
    assert status["driver"] is None


def test_tracking_during_the_trip_counts_down_to_the_dropoff(browser_for, ride_in, rider):
    ride, driver = ride_in(RideStatus.IN_PROGRESS)

    frames = browser_for(rider).get(f"/rides/{ride.id}/track").json()["frames"]

    assert frames[1]["eta_s"] > 300  # the dropoff is ≈ 2.8 km from where the driver stands


def test_the_driver_tracks_their_own_ride(browser_for, ride_in):
    ride, driver = ride_in(RideStatus.ARRIVED)

    frames = browser_for(driver).get(f"/rides/{ride.id}/track").json()["frames"]

    assert [f["type"] for f in frames] == ["ride.status", "driver.location"]
    assert frames[1]["eta_s"] == 0


def test_tracking_someone_elses_ride_is_not_found(browser_for, ride_in, make_user):
    ride, _ = ride_in(RideStatus.ACCEPTED)

    response = browser_for(make_user("mallory")).get(f"/rides/{ride.id}/track")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_tracking_needs_a_login_and_a_valid_id(browser_for, ride_in, rider):
    ride, _ = ride_in(RideStatus.ACCEPTED)

    assert Client().get(f"/rides/{ride.id}/track").status_code == 401
    assert browser_for(rider).get("/rides/99999999999999999999/track").status_code == 404
    assert browser_for(rider).get("/rides/abc/track").status_code == 404


# --- share page ---------------------------------------------------------------------------------
def _share_token(rider, ride) -> str:
    from rides.services import sharing

    return sharing.ride_share(user=rider, ride_id=ride.id).token


def test_share_page_opens_without_an_account_and_names_its_ride(ride_in, rider):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    token = _share_token(rider, ride)

    response = Client().get(f"/rides/share/{token}/")

    assert response.status_code == 200
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    html = response.content.decode()
    config = _config(html)
    assert config["ride"] == str(ride.id)
    assert config["share"] == token
    assert config["pickup"] == {"lat": PICKUP[0], "lng": PICKUP[1]}
    assert "me" not in config
    assert 'data-testid="share-app"' in html
    assert "rita" not in html  # the rider is not named to the viewer
    assert '<script type="module" src="/static/rides/share.js"></script>' in html


@pytest.mark.parametrize("token", ["forged", "x" * 300, "eyJyaWRlIjoiMSJ9:1:abc"])
def test_share_page_with_a_bad_token_is_gone(token):
    response = Client().get(f"/rides/share/{token}/")

    assert response.status_code == 404
    assert 'data-testid="share-gone"' in response.content.decode()


def test_share_page_dies_with_the_ride(ride_in, rider, run_commits):
    from rides.services import trips

    ride, _ = ride_in(RideStatus.ACCEPTED)
    token = _share_token(rider, ride)
    run_commits(trips.ride_cancel, user=rider, ride_id=ride.id, reason="plans changed")

    assert Client().get(f"/rides/share/{token}/").status_code == 404


def test_a_share_token_alone_does_not_open_the_polling_read(ride_in, rider, browser_for):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    token = _share_token(rider, ride)

    config = _config(Client().get(f"/rides/share/{token}/").content.decode())

    assert config["ride"] == str(ride.id)
    # The page's polling read is for parties only: the token alone does not open it.
    assert Client().get(f"/rides/{ride.id}/track").status_code == 401
