"""The HTTP API: shapes, permissions, service areas, quotes, bad input."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from rides import store
from rides.geo import eta_seconds
from rides.models import Quote, Ride, RideStatus
from rides.selectors import surge_cell
from rides.services import dispatch, trips
from tests.rides.conftest import DROPOFF, OUTSIDE, PICKUP, as_dict, offset

pytestmark = pytest.mark.django_db
BASE = "/api/v1/rides"


def _ride_body(**extra):
    return {"pickup": as_dict(PICKUP), "dropoff": as_dict(DROPOFF), "vehicle_type": "economy", **extra}


def _estimate_params(pickup=PICKUP, dropoff=DROPOFF, vehicle_type="economy"):
    return {"pickup_lat": pickup[0], "pickup_lng": pickup[1], "dropoff_lat": dropoff[0], "dropoff_lng": dropoff[1],
            "vehicle_type": vehicle_type}


# --- drivers ---------------------------------------------------------------------------
def test_a_driver_goes_online_is_indexed_and_goes_offline(make_user, client_for):
    driver = make_user("dan")
    api = client_for(driver)
    response = api.post(f"{BASE}/driver/online", {"vehicle_type": "comfort", **as_dict(PICKUP)}, format="json")
    assert response.status_code == 202
    assert response.json() == {"status": "online", "state": "free", "vehicle_type": "comfort", "service_area": "sf"}
    hits = store.geo_search(area="sf", vehicle_type="comfort", lat=PICKUP[0], lng=PICKUP[1], radius_m=100, count=5)
    assert [h.driver_id for h in hits] == [driver.id]

    assert api.post(f"{BASE}/driver/offline").status_code == 202
    assert store.geo_search(area="sf", vehicle_type="comfort", lat=PICKUP[0], lng=PICKUP[1], radius_m=100,
                            count=5) == []
    response = api.post(f"{BASE}/driver/location", as_dict(PICKUP), format="json")
    assert response.status_code == 409 and response.json()["code"] == "driver_offline"


def test_going_online_outside_every_service_area_is_400(auth_client):
    response = auth_client.post(f"{BASE}/driver/online", {"vehicle_type": "xl", **as_dict(OUTSIDE)}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "outside_service_area"


def test_an_unknown_vehicle_type_is_400_naming_it(auth_client):
    response = auth_client.post(f"{BASE}/driver/online", {"vehicle_type": "rocket", **as_dict(PICKUP)}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["vehicle_type"]


def test_a_driver_on_a_ride_cannot_go_offline(rider, make_driver, request_ride, client_for):
    driver = make_driver(offset(PICKUP, 100))
    ride = request_ride(rider)
    dispatch.ride_accept(driver=driver, ride_id=ride.id)
    response = client_for(driver).post(f"{BASE}/driver/offline")
    assert response.status_code == 409 and response.json()["code"] == "driver_busy"


BAD_NUMBERS = ["NaN", "nan", "Infinity", "-inf", "1e400", "abc", "", True, None, [], {}]


@pytest.mark.parametrize("value", BAD_NUMBERS + [90.5, -91, "100"])
def test_a_bad_latitude_is_400_naming_the_field(make_user, client_for, value):
    api = client_for(make_user())
    response = api.post(f"{BASE}/driver/online", {"vehicle_type": "economy", "lat": value, "lng": -122.4},
                        format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_coordinate" and list(response.json()["fields"]) == ["lat"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_literals_are_400(make_user, client_for, literal):
    api = client_for(make_user())
    body = '{"vehicle_type": "economy", "lat": 37.78, "lng": ' + literal + '}'
    response = api.post(f"{BASE}/driver/online", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert store.driver_get(api.user.id) is None


@pytest.mark.parametrize("value", [180.01, -180.5, "east"])
def test_a_bad_longitude_in_a_ride_request_names_the_nested_field(auth_client, value):
    body = _ride_body(dropoff={"lat": 37.8, "lng": value})
    response = auth_client.post(BASE, body, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["dropoff.lng"]


@pytest.mark.parametrize("body", [[], "text", {"pickup": [1, 2]}])
def test_a_malformed_request_body_is_400(auth_client, body):
    response = auth_client.post(BASE, body, format="json")
    assert response.status_code == 400 and response.json()["code"] in {"invalid", "invalid_coordinate"}


def test_a_location_ping_and_a_batch_are_accepted(make_driver, client_for):
    driver = make_driver(PICKUP)
    api = client_for(driver)
    moved = offset(PICKUP, 300)
    response = api.post(f"{BASE}/driver/location", {**as_dict(moved), "heading": 90, "speed": 8.5}, format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 1}
    now = time.time()
    points = [{**as_dict(offset(PICKUP, 300 + 100 * i)), "ts": now + i} for i in range(50)]
    response = api.post(f"{BASE}/driver/location", {"points": points}, format="json")
    assert response.status_code == 202 and response.json() == {"accepted": 50}
    data = store.driver_get(driver.id)
    assert (float(data["lat"]), float(data["lng"])) == pytest.approx(offset(PICKUP, 300 + 4900))
    hit = store.geo_search(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=6000,
                           count=1)[0]
    assert hit.distance_m == pytest.approx(5200, abs=5)


def test_a_batch_names_the_bad_point(make_driver, client_for):
    api = client_for(make_driver(PICKUP))
    points = [as_dict(PICKUP)] * 3 + [{"lat": "north", "lng": -122.4}]
    response = api.post(f"{BASE}/driver/location", {"points": points}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["points[3].lat"]
    response = api.post(f"{BASE}/driver/location", {"points": [as_dict(PICKUP)] * 51}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["points"]
    response = api.post(f"{BASE}/driver/location", {**as_dict(PICKUP), "ts": time.time() + 3600}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["ts"]
    response = api.post(f"{BASE}/driver/location", {**as_dict(PICKUP), "heading": 400}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["heading"]
    for field, value in (("ts", 10**400), ("speed", "fast"), ("lat", 10**400), ("heading", True)):
        response = api.post(f"{BASE}/driver/location", {**as_dict(PICKUP), field: value}, format="json")
        assert response.status_code == 400 and list(response.json()["fields"]) == [field], (field, value)


def _indexed_position(driver_id):
    (lng, lat), = store.get_redis().geopos(store.geo_key("sf", "economy"), driver_id)
    return lat, lng


def test_moves_under_50_m_are_not_reindexed(make_driver, client_for):
    driver = make_driver(PICKUP)
    api = client_for(driver)
    before = _indexed_position(driver.id)
    api.post(f"{BASE}/driver/location", as_dict(offset(PICKUP, 30)), format="json")
    assert _indexed_position(driver.id) == before
    assert float(store.driver_get(driver.id)["lat"]) == pytest.approx(offset(PICKUP, 30)[0])
    api.post(f"{BASE}/driver/location", as_dict(offset(PICKUP, 60)), format="json")
    assert _indexed_position(driver.id) == pytest.approx(offset(PICKUP, 60), abs=1e-5)


def test_an_older_point_only_refreshes_the_last_seen_time(make_driver, client_for):
    driver = make_driver(PICKUP)
    api = client_for(driver)
    api.post(f"{BASE}/driver/location", as_dict(offset(PICKUP, 500)), format="json")
    store.get_redis().zadd(store.SEEN_KEY, {driver.id: time.time() - 20})
    api.post(f"{BASE}/driver/location", {**as_dict(PICKUP), "ts": time.time() - 60}, format="json")
    assert float(store.driver_get(driver.id)["lat"]) == pytest.approx(offset(PICKUP, 500)[0])
    assert store.drivers_last_seen([driver.id])[0] > time.time() - 5


def test_a_driver_leaving_every_service_area_leaves_search(make_driver, client_for):
    driver = make_driver(PICKUP)
    client_for(driver).post(f"{BASE}/driver/location", as_dict(OUTSIDE), format="json")
    assert store.geo_search(area="sf", vehicle_type="economy", lat=PICKUP[0], lng=PICKUP[1], radius_m=100_000,
                            count=5) == []
    assert store.driver_get(driver.id)["area"] == ""


# --- estimate and quotes ------------------------------------------------------------------
def test_an_estimate_prices_the_trip_and_holds_a_quote_for_2_minutes(auth_client, make_driver, settings):
    settings.RIDES_SPEED_KMH_BY_HOUR = [36.0] * 24
    make_driver(offset(PICKUP, 500))
    response = auth_client.get(f"{BASE}/estimate", _estimate_params())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"fare", "surge_multiplier", "distance_m", "duration_s", "pickup_eta_s", "quote_id",
                         "quote_expires_at"}
    assert body["distance_m"] == pytest.approx(2829 * 1.3, abs=2)  # great-circle 2,829 m × road factor
    assert body["duration_s"] == pytest.approx(body["distance_m"] / 10, abs=1)
    assert body["pickup_eta_s"] == 65  # 500 m × 1.3 at 10 m/s
    assert body["surge_multiplier"] == 1.0
    expected = 2.50 + 1.10 * body["distance_m"] / 1000 + 0.30 * body["duration_s"] / 60
    assert body["fare"] == {"amount": f"{expected:.2f}", "currency": "USD"}
    quote = Quote.objects.get(pk=int(body["quote_id"]))
    assert 119 <= (quote.expires_at - timezone.now()).total_seconds() <= 120
    assert quote.owner == auth_client.user


def test_an_estimate_with_nobody_around_has_no_pickup_eta(auth_client):
    assert auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["pickup_eta_s"] is None


@pytest.mark.parametrize(("field", "value"), [("pickup_lat", "abc"), ("dropoff_lng", "nan"), ("pickup_lng", "1e400"),
                                              ("dropoff_lat", "-95")])
def test_an_estimate_with_a_bad_coordinate_is_400_naming_it(auth_client, field, value):
    response = auth_client.get(f"{BASE}/estimate", {**_estimate_params(), field: value})
    assert response.status_code == 400 and list(response.json()["fields"]) == [field]


def test_an_estimate_outside_every_service_area_is_400(auth_client):
    response = auth_client.get(f"{BASE}/estimate", _estimate_params(pickup=OUTSIDE))
    assert response.status_code == 400 and response.json()["code"] == "outside_service_area"


def test_the_quote_keeps_its_price_when_surge_rises(auth_client):
    quote_id = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    quoted = Quote.objects.get(pk=int(quote_id)).amount
    store.surge_publish({surge_cell(*PICKUP): 2.0}, now=time.time())
    response = auth_client.post(BASE, _ride_body(quote_id=quote_id), format="json")
    assert response.status_code == 201
    assert response.json()["fare"]["amount"] == f"{quoted:.2f}" and response.json()["surge_multiplier"] == 1.0
    assert response.json()["quote_id"] == quote_id


def test_a_request_without_a_quote_is_priced_at_the_current_surge(auth_client):
    store.surge_publish({surge_cell(*PICKUP): 1.5}, now=time.time())
    body = auth_client.post(BASE, _ride_body(), format="json").json()
    assert body["surge_multiplier"] == 1.5 and body["status"] == "requested"


def test_an_expired_quote_is_400(auth_client):
    quote_id = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    Quote.objects.filter(pk=int(quote_id)).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = auth_client.post(BASE, _ride_body(quote_id=quote_id), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "quote_expired" and list(response.json()["fields"]) == ["quote_id"]
    assert not Ride.objects.exists()


@pytest.mark.parametrize("quote_id", ["someone-elses", "123", "99999999999999999999999", 12.5])
def test_someone_elses_or_an_unknown_quote_is_400(auth_client, client_for, make_user, quote_id):
    if quote_id == "someone-elses":
        quote_id = client_for(make_user()).get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    response = auth_client.post(BASE, _ride_body(quote_id=quote_id), format="json")
    assert response.status_code == 400 and response.json()["code"] == "quote_not_found"


def test_a_quote_is_used_once_and_for_its_own_trip(auth_client):
    quote_id = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    response = auth_client.post(BASE, _ride_body(quote_id=quote_id, vehicle_type="xl"), format="json")
    assert response.status_code == 400 and response.json()["code"] == "quote_mismatch"
    far_dropoff = _ride_body(quote_id=quote_id, dropoff=as_dict(offset(DROPOFF, 1000)))
    assert auth_client.post(BASE, far_dropoff, format="json").json()["code"] == "quote_mismatch"
    ride_id = auth_client.post(BASE, _ride_body(quote_id=quote_id), format="json").json()["id"]
    auth_client.post(f"{BASE}/{ride_id}/cancel", {}, format="json")
    response = auth_client.post(BASE, _ride_body(quote_id=quote_id), format="json")
    assert response.status_code == 400 and response.json()["code"] == "quote_used"


# --- rides ---------------------------------------------------------------------------------
def test_a_request_answers_201_with_the_ride(auth_client):
    response = auth_client.post(BASE, _ride_body(), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "requested" and body["id"].isdigit()
    assert body["pickup"] == as_dict(PICKUP) and body["dropoff"] == as_dict(DROPOFF)
    assert body["driver"] is None and body["receipt"] is None
    assert body["rider"]["username"] == "alice"


def test_a_rider_with_an_active_ride_gets_409(auth_client):
    first = auth_client.post(BASE, _ride_body(), format="json").json()
    response = auth_client.post(BASE, _ride_body(), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "active_ride" and response.json()["ride"] == first["id"]


def test_a_pickup_outside_every_service_area_is_400(auth_client):
    response = auth_client.post(BASE, _ride_body(pickup=as_dict(OUTSIDE)), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "outside_service_area" and response.json()["field"] == "pickup"


def test_a_service_area_is_a_polygon_not_its_bounding_box(auth_client):
    from rides.models import ServiceArea

    # A triangle over Oakland: its bounding box holds the south-east corner, the triangle does not.
    ServiceArea.objects.create(slug="oak", name="Oakland",
                               polygon=[[37.78, -122.30], [37.84, -122.30], [37.78, -122.22]])
    inside, corner = (37.79, -122.29), (37.835, -122.225)
    assert auth_client.post(BASE, _ride_body(pickup=as_dict(corner)), format="json").json()["code"] == (
        "outside_service_area")
    response = auth_client.post(BASE, _ride_body(pickup=as_dict(inside)), format="json")
    assert response.status_code == 201
    assert Ride.objects.get(pk=int(response.json()["id"])).service_area.slug == "oak"


def test_an_inactive_service_area_takes_no_rides(auth_client):
    from rides.models import ServiceArea

    ServiceArea.objects.filter(slug="sf").update(active=False)
    response = auth_client.post(BASE, _ride_body(), format="json")
    assert response.status_code == 400 and response.json()["code"] == "outside_service_area"


def test_a_ride_is_visible_to_its_rider_its_driver_and_staff_only(rider, make_driver, make_user, request_ride,
                                                                    client_for, api_client):
    driver = make_driver(offset(PICKUP, 100))
    ride = request_ride(rider)
    url = f"{BASE}/{ride.id}"
    for user in (rider, driver, make_user("ops", is_staff=True)):
        response = client_for(user).get(url)
        assert response.status_code == 200 and response.json()["id"] == str(ride.id)
    assert client_for(rider).get(url).json()["driver"]["id"] == str(driver.id)
    stranger = client_for(make_user("mallory"))
    response = stranger.get(url)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api_client.get(url).status_code == 401
    assert client_for(rider).get(f"{BASE}/99999999999999999999").status_code == 404
    assert client_for(driver).post(f"{BASE}/99999999999999999999/accept").status_code == 404
    assert client_for(rider).get(f"{BASE}/123").status_code == 404


def test_someone_elses_ride_is_404_for_every_action(rider, make_driver, make_user, request_ride, client_for):
    make_driver(offset(PICKUP, 100))
    ride = request_ride(rider)
    mallory = client_for(make_user("mallory"))
    make_driver(offset(PICKUP, 300), username="other-driver")
    for step in ("accept", "decline", "arrive", "start", "complete", "cancel", "rate"):
        response = mallory.post(f"{BASE}/{ride.id}/{step}", {"stars": 5}, format="json")
        assert response.status_code == 404, step
    ride.refresh_from_db()
    assert ride.status == RideStatus.OFFERED


def test_the_rider_cannot_drive_their_own_ride(rider, make_driver, request_ride, client_for):
    make_driver(offset(PICKUP, 100))
    ride = request_ride(rider)
    assert client_for(rider).post(f"{BASE}/{ride.id}/accept").status_code == 404


def test_history_lists_rides_by_role_with_itemised_receipts(rider, make_driver, request_ride, client_for,
                                                             run_commits, django_assert_max_num_queries):
    driver = make_driver(offset(PICKUP, 100))
    for _ in range(3):
        ride = request_ride(rider)
        for step in (dispatch.ride_accept, trips.ride_arrive, trips.ride_start, trips.ride_complete):
            run_commits(step, driver=driver, ride_id=ride.id)
    api = client_for(rider)
    api.get(BASE, {"role": "rider"})  # the token is resolved once, then cached
    with django_assert_max_num_queries(3):  # the user, the count, the page with drivers and profiles
        response = api.get(BASE, {"role": "rider"})
    body = response.json()
    assert response.status_code == 200 and body["count"] == 3
    receipt = body["results"][0]["receipt"]
    assert set(receipt) == {"currency", "base", "distance", "time", "surge", "surge_multiplier",
                            "cancellation_fee", "total"}
    assert receipt["total"] == f"{float(receipt['base']) + float(receipt['distance']) + float(receipt['time']):.2f}"
    as_driver = client_for(driver).get(BASE, {"role": "driver"}).json()
    assert [r["id"] for r in as_driver["results"]] == [r["id"] for r in body["results"]]
    assert client_for(driver).get(BASE, {"role": "rider"}).json()["count"] == 0
    response = client_for(rider).get(BASE, {"role": "admin"})
    assert response.status_code == 400 and list(response.json()["fields"]) == ["role"]


# --- nearby and surge ------------------------------------------------------------------------
def test_nearby_drivers_are_nearest_first_anonymous_and_rounded_for_riders(make_driver, auth_client, make_user,
                                                                            client_for):
    far = make_driver(offset(PICKUP, 900, 400))
    near = make_driver(offset(PICKUP, 120, 40))
    busy = make_driver(offset(PICKUP, 50))
    store.driver_set_state(busy.id, "busy")
    stale = make_driver(offset(PICKUP, 60))
    store.get_redis().zadd(store.SEEN_KEY, {stale.id: time.time() - 60})
    response = auth_client.get(f"{BASE}/drivers/nearby", {**as_dict(PICKUP), "radius_m": 2000})
    assert response.status_code == 200
    body = response.json()
    assert [set(d) for d in body] == [{"lat", "lng", "distance_m", "eta_s"}] * 2
    assert [d["distance_m"] for d in body] == [100, 1000]
    # ETAs are those of the rounded distances: they must not give the exact ones away.
    assert [d["eta_s"] for d in body] == [eta_seconds(100), eta_seconds(1000)]
    assert all(d["lat"] == round(d["lat"], 3) and d["lng"] == round(d["lng"], 3) for d in body)
    assert body[0]["lat"] == round(offset(PICKUP, 120, 40)[0], 3)

    staff = client_for(make_user("ops", is_staff=True)).get(f"{BASE}/drivers/nearby", as_dict(PICKUP)).json()
    assert [d["driver"] for d in staff] == [str(near.id), str(far.id)]
    limited = auth_client.get(f"{BASE}/drivers/nearby", {**as_dict(PICKUP), "limit": 1}).json()
    assert len(limited) == 1


@pytest.mark.parametrize(("params", "field"), [
    ({"radius_m": "far"}, "radius_m"), ({"radius_m": 0}, "radius_m"), ({"radius_m": 50_000}, "radius_m"),
    ({"limit": 51}, "limit"), ({"vehicle_type": "tank"}, "vehicle_type"), ({"lat": "nan"}, "lat"),
])
def test_nearby_rejects_bad_parameters(auth_client, params, field):
    response = auth_client.get(f"{BASE}/drivers/nearby", {**as_dict(PICKUP), **params})
    assert response.status_code == 400 and list(response.json()["fields"]) == [field]


def test_surge_of_a_point_names_its_h3_cell(auth_client):
    response = auth_client.get(f"{BASE}/surge", as_dict(PICKUP))
    assert response.status_code == 200
    assert response.json() == {"cell": surge_cell(*PICKUP), "resolution": 8, "multiplier": 1.0, "updated_at": None}
    store.surge_publish({surge_cell(*PICKUP): 1.5}, now=1_800_000_000)
    body = auth_client.get(f"{BASE}/surge", as_dict(PICKUP)).json()
    assert body["multiplier"] == 1.5 and body["updated_at"] == "2027-01-15T08:00:00+00:00"
    response = auth_client.get(f"{BASE}/surge", {"lat": 37.7, "lng": "x"})
    assert response.status_code == 400 and list(response.json()["fields"]) == ["lng"]


def test_everything_needs_a_login(api_client):
    for path in ("", "/estimate", "/surge", "/drivers/nearby"):
        assert api_client.get(f"{BASE}{path}").status_code == 401
    for path in ("", "/driver/online", "/driver/location"):
        assert api_client.post(f"{BASE}{path}", json.dumps({}), content_type="application/json").status_code == 401


def test_the_openapi_schema_lists_the_rides_endpoints(auth_client):
    schema = auth_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/rides", "/api/v1/rides/estimate", "/api/v1/rides/{ride_id}", "/api/v1/rides/{ride_id}/accept",
                 "/api/v1/rides/{ride_id}/decline", "/api/v1/rides/{ride_id}/cancel", "/api/v1/rides/{ride_id}/rate",
                 "/api/v1/rides/driver/online", "/api/v1/rides/driver/location", "/api/v1/rides/drivers/nearby",
                 "/api/v1/rides/surge"):
        assert path in schema["paths"], path
    assert "quote_id" in schema["components"]["schemas"]["EstimateOut"]["properties"]


def test_estimates_are_rate_limited_per_user(auth_client, client_for, make_user, settings):
    settings.RIDES_ESTIMATE_RATE_LIMIT = (5, 3600.0)
    for _ in range(5):
        assert auth_client.get(f"{BASE}/estimate", _estimate_params()).status_code == 200
    response = auth_client.get(f"{BASE}/estimate", _estimate_params())
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 600
    assert Quote.objects.count() == 5
    assert client_for(make_user()).get(f"{BASE}/estimate", _estimate_params()).status_code == 200


def test_old_unused_quotes_are_purged_and_used_ones_kept(auth_client):
    from rides.tasks import purge_quotes

    unused = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    used = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    auth_client.post(BASE, _ride_body(quote_id=used), format="json")
    fresh = auth_client.get(f"{BASE}/estimate", _estimate_params()).json()["quote_id"]
    Quote.objects.filter(pk__in=[int(unused), int(used)]).update(expires_at=timezone.now() - timedelta(days=2))
    assert purge_quotes.delay().get() == 1
    assert sorted(Quote.objects.values_list("id", flat=True)) == sorted([int(used), int(fresh)])
