"""The rides pages in a real browser: a rider and a driver (two browser contexts) through a whole
ride, the operations dashboard's charts and map, and phone-width layouts without sideways scroll.

The tile server is unreachable here, as on a machine without internet: the maps must work anyway."""

import re
import time

import h3
import pytest
from django.contrib.auth.hashers import make_password
from playwright.sync_api import expect

from rides import store
from rides.models import Rating, RideStatus
from rides.services import drivers, sharing, trips
from tests.fixtures.browser import login
from tests.rides.conftest import DROPOFF, PICKUP, offset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "s3cure-Passphrase"
UNREACHABLE_TILES = "http://127.0.0.1:9/{z}/{x}/{y}.png"


@pytest.fixture(autouse=True)
def _no_tile_server(settings):
    settings.RIDES_TILE_URL = UNREACHABLE_TILES


def _fill_point(page, name: str, point: tuple[float, float]) -> None:
    page.get_by_test_id(f"{name}-lat").fill(str(point[0]))
    page.get_by_test_id(f"{name}-lng").fill(str(point[1]))


def _go_online(page, base_url: str, point: tuple[float, float]) -> None:
    page.goto(f"{base_url}/rides/drive/")
    expect(page.get_by_test_id("driver-app")).to_have_attribute("data-ready", "true")
    page.get_by_test_id("driver-lat").fill(str(point[0]))
    page.get_by_test_id("driver-lng").fill(str(point[1]))
    page.get_by_test_id("go-online").click()
    expect(page.get_by_test_id("driver-status")).to_have_attribute("data-status", "online")


def test_rider_requests_driver_accepts_and_both_follow_the_ride_to_its_receipt(page, second_page, live_asgi_server,
                                                                               make_user):
    make_user("rita", password=PASSWORD)
    make_user("dave", password=PASSWORD)
    rider, driver = page, second_page
    login(driver, live_asgi_server, "dave", PASSWORD)
    _go_online(driver, live_asgi_server, offset(PICKUP, 300))

    login(rider, live_asgi_server, "rita", PASSWORD)
    rider.goto(f"{live_asgi_server}/rides/")
    expect(rider.get_by_test_id("rider-app")).to_have_attribute("data-ready", "true")
    _fill_point(rider, "pickup", PICKUP)
    _fill_point(rider, "dropoff", DROPOFF)
    rider.get_by_test_id("estimate").click()
    expect(rider.get_by_test_id("fare")).to_contain_text("$")
    expect(rider.get_by_test_id("pickup-eta")).not_to_have_text("no driver near")
    rider.get_by_test_id("request").click()
    expect(rider.get_by_test_id("ride-status")).to_have_attribute("data-status", "offered")
    expect(rider.get_by_test_id("rider-app")).to_have_attribute("data-live", "socket")
    expect(driver.get_by_test_id("driver-app")).to_have_attribute("data-live", "socket")

    # The driver's page shows the offer with a running countdown, and accepting it…
    expect(driver.get_by_test_id("offer-card")).to_be_visible()
    expect(driver.get_by_test_id("offer-countdown")).to_have_attribute("data-seconds", re.compile(r"^1?\d$"))
    driver.get_by_test_id("accept").click()
    expect(driver.get_by_test_id("trip-status")).to_have_attribute("data-status", "accepted")

    # …reaches the rider: the status, the driver's name, their marker and an ETA.
    expect(rider.get_by_test_id("ride-status")).to_have_attribute("data-status", "accepted")
    expect(rider.get_by_test_id("ride-driver")).to_contain_text("dave")
    expect(rider.locator(".rd-car")).to_have_count(1)
    expect(rider.get_by_test_id("eta")).to_have_attribute("data-seconds", re.compile(r"^[1-9]\d*$"))
    # Demo driving: each position update moves the driver 60 m toward the pickup (south of them).
    latitude = driver.get_by_test_id("driver-lat")
    start = latitude.input_value()
    driver.get_by_test_id("auto-drive").check()
    expect(latitude).not_to_have_value(start, timeout=12_000)
    assert float(start) - float(latitude.input_value()) == pytest.approx(60 / 111_195, rel=0.05)
    rider.screenshot(path=str(_shot("rider-1280")), full_page=True)
    driver.screenshot(path=str(_shot("driver-1280")), full_page=True)

    for action, status in (("arrive", "arrived"), ("start", "in_progress"), ("complete", None)):
        expect(driver.get_by_test_id("advance")).to_have_attribute("data-action", action)
        driver.get_by_test_id("advance").click()
        if status:
            expect(driver.get_by_test_id("trip-status")).to_have_attribute("data-status", status)
            expect(rider.get_by_test_id("ride-status")).to_have_attribute("data-status", status)
    expect(driver.get_by_test_id("trip-card")).to_be_hidden()
    expect(driver.get_by_test_id("earnings-rides")).to_have_text("1 ride completed today")

    expect(rider.get_by_test_id("ride-status")).to_have_attribute("data-status", RideStatus.COMPLETED)
    expect(rider.get_by_test_id("receipt-total")).to_contain_text("$")
    rider.locator("[data-testid=rate-form] label").filter(has_text="4★").click()
    rider.get_by_test_id("rate").click()
    expect(rider.get_by_test_id("rated")).to_be_visible()
    assert Rating.objects.get(side="rider").stars == 4


def test_rider_sees_field_errors_the_surge_and_a_cancel_ends_the_ride(page, live_asgi_server, make_user,
                                                                                  make_driver):
    make_user("rita", password=PASSWORD)
    make_driver(offset(PICKUP, 300))
    login(page, live_asgi_server, "rita", PASSWORD)
    page.goto(f"{live_asgi_server}/rides/")
    _fill_point(page, "pickup", PICKUP)
    page.get_by_test_id("dropoff-lat").fill("95")
    page.get_by_test_id("dropoff-lng").fill(str(DROPOFF[1]))
    page.get_by_test_id("estimate").click()
    expect(page.get_by_test_id("trip-error")).to_contain_text("dropoff_lat")

    # Outside every service area: the server's error names the field.
    _fill_point(page, "dropoff", DROPOFF)
    _fill_point(page, "pickup", (37.3382, -121.8863))
    page.get_by_test_id("estimate").click()
    expect(page.get_by_test_id("trip-error")).to_contain_text("outside every service area")

    _fill_point(page, "pickup", PICKUP)
    store.surge_publish({h3.latlng_to_cell(*PICKUP, 8): 1.5}, now=time.time())
    page.get_by_test_id("estimate").click()
    expect(page.get_by_test_id("surge")).to_have_text("1.5× surge")
    expect(page.locator("path.rd-nearby")).to_have_count(1)  # the one free car near the pickup
    expect(page.get_by_test_id("quote-countdown")).to_have_attribute("data-seconds", re.compile(r"^1[01]\d$"))
    page.screenshot(path=str(_shot("estimate-1280")), full_page=True)
    page.get_by_test_id("request").click()
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "offered")
    page.reload()  # a reload resumes the active ride
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "offered")
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_test_id("new-ride")).to_be_visible()


def test_rider_places_pickup_and_dropoff_by_clicking_the_map(page, live_asgi_server, make_user):
    make_user("rita", password=PASSWORD)
    login(page, live_asgi_server, "rita", PASSWORD)
    page.goto(f"{live_asgi_server}/rides/")
    expect(page.get_by_test_id("map")).to_have_attribute("data-map-ready", "true")
    box = page.get_by_test_id("map").bounding_box()

    page.mouse.click(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.3)

    assert float(page.get_by_test_id("pickup-lat").input_value()) < float(page.get_by_test_id("dropoff-lat").input_value())
    assert float(page.get_by_test_id("pickup-lng").input_value()) < float(page.get_by_test_id("dropoff-lng").input_value())
    expect(page.locator(".rd-marker")).to_have_count(2)


def test_operations_dashboard_draws_its_charts_and_the_surge_heat_map(page, live_asgi_server, make_user, make_driver,
                                                                      ride_in):
    make_user("olga", password=PASSWORD, is_staff=True)
    make_driver(offset(PICKUP, 2000), "comfort")
    ride_in(RideStatus.ACCEPTED)
    store.surge_publish({h3.latlng_to_cell(*PICKUP, 8): 2.0, h3.latlng_to_cell(*DROPOFF, 8): 1.2}, now=time.time())
    login(page, live_asgi_server, "olga", PASSWORD)

    page.goto(f"{live_asgi_server}/rides/ops/")

    expect(page.get_by_test_id("ops-app")).to_have_attribute("data-ready", "true")
    expect(page.locator("[data-kpi=drivers]")).to_have_text("2")
    expect(page.locator("[data-kpi=surge]")).to_have_text("2")
    expect(page.locator("[data-chart-slot=drivers] svg[data-chart=stacked] [data-row]")).to_have_count(3)
    expect(page.locator("[data-chart-slot=drivers] [data-row=economy] rect[data-part=busy]")).to_have_count(1)
    expect(page.locator("[data-chart-slot=rides] [data-row=accepted] rect[data-part]")).to_have_count(1)
    expect(page.locator("[data-chart-slot=dispatch] svg[data-chart=columns] rect[data-bar]")).to_have_count(1)
    expect(page.locator("path.rd-surge-cell")).to_have_count(2)
    page.screenshot(path=str(_shot("ops-1280")), full_page=True)


def _shot(name: str):
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"rides-{name}.png"


@pytest.mark.parametrize("path", ["/rides/", "/rides/drive/", "/rides/ops/"])
def test_pages_fit_a_390_px_phone_without_sideways_scroll(page, live_asgi_server, make_user, path):
    make_user("olga", password=PASSWORD, is_staff=True)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_asgi_server, "olga", PASSWORD)

    page.goto(f"{live_asgi_server}{path}")
    expect(page.locator("[data-ready=true]")).to_have_count(1)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(_shot(f"390{path.replace('/', '-')}")), full_page=True)


def _in_a_thread(service, **kwargs):
    """Call a service off the browser's thread (it holds Playwright's loop, where the service's
    after-commit publication could not run), as another process would."""
    import threading

    from django.db import close_old_connections

    errors = []

    def run():
        try:
            service(**kwargs)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            close_old_connections()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not errors, errors


def test_share_page_follows_the_ride_live_without_an_account_until_it_ends(page, live_asgi_server, ride_in, rider):
    ride, driver = ride_in(RideStatus.ACCEPTED)
    url = sharing.ride_share(user=rider, ride_id=ride.id).url

    page.goto(f"{live_asgi_server}/rides/share/{url.rsplit('/share/', 1)[1]}")

    app = page.get_by_test_id("share-app")
    expect(app).to_have_attribute("data-live", "socket")
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "accepted")
    expect(page.get_by_test_id("ride-driver")).to_have_text(driver.username)
    expect(page.locator(".rd-car")).to_have_count(1)
    expect(page.get_by_test_id("whoami")).to_have_count(0)  # nobody is logged in

    _in_a_thread(drivers.driver_location, user=driver, data={"lat": PICKUP[0], "lng": PICKUP[1]})
    expect(page.get_by_test_id("eta")).to_have_attribute("data-seconds", "0")
    _in_a_thread(trips.ride_arrive, driver=driver, ride_id=ride.id)
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "arrived")
    _in_a_thread(trips.ride_start, driver=driver, ride_id=ride.id)
    _in_a_thread(trips.ride_complete, driver=driver, ride_id=ride.id)

    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "completed")
    expect(app).to_have_attribute("data-live", "closed")
    expect(page.locator(".rd-car")).to_have_count(0)


def test_with_the_ride_socket_down_the_rider_page_polls_and_still_follows_the_ride(page, live_asgi_server, ride_in,
                                                                                    rider):
    rider.password = make_password(PASSWORD)
    rider.save(update_fields=["password"])
    ride, driver = ride_in(RideStatus.ACCEPTED)
    # Every socket the page opens is refused at once, as behind a proxy that drops WebSockets.
    page.route_web_socket(re.compile(r".*/ws/rides/.*"), lambda ws: ws.close(code=1011, reason="no sockets here"))
    login(page, live_asgi_server, rider.username, PASSWORD)

    page.goto(f"{live_asgi_server}/rides/")

    expect(page.get_by_test_id("rider-app")).to_have_attribute("data-live", "poll")
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "accepted")
    expect(page.locator(".rd-car")).to_have_count(1)
    _in_a_thread(trips.ride_arrive, driver=driver, ride_id=ride.id)
    expect(page.get_by_test_id("ride-status")).to_have_attribute("data-status", "arrived")
    expect(page.get_by_test_id("eta")).to_have_attribute("data-seconds", "0")
