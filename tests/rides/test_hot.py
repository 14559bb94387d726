"""Driver location and nearby drivers answered on the hot path, byte for byte as the DRF views answer."""

import json
import time
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync

from core.services import token_for
from rides import store
from rides.models import RideStatus
from tests.asgi import asgi_http
from tests.rides.conftest import OUTSIDE, PICKUP, as_dict, offset

pytestmark = pytest.mark.django_db(transaction=True)

LOCATION = "/api/v1/rides/driver/location"
NEARBY = "/api/v1/rides/drivers/nearby"


def asgi(method: str, path: str, *, query: str = "", **kwargs):
    return async_to_sync(asgi_http)(method, path, query=query.encode(), **kwargs)


def _token_headers(user, content_type: bytes | None = b"application/json") -> list:
    headers = [(b"authorization", f"Token {token_for(user).key}".encode())]
    return [*headers, (b"content-type", content_type)] if content_type else headers


def answered_by_django(headers: dict) -> bool:
    # Django's middleware always adds this header; the hot path never does.
    return b"x-frame-options" in headers


def post_both(client, user, body: bytes):
    """(hot answer, DRF answer) of the same location post: (status, body bytes) each."""
    status, headers, content = asgi("POST", LOCATION, body=body, headers=_token_headers(user))
    assert not answered_by_django(headers)
    drf = client(user).generic("POST", LOCATION, body, content_type="application/json")
    return (status, content), (drf.status_code, drf.content)


def get_both(client, user, query: dict):
    status, headers, content = asgi("GET", NEARBY, query=urlencode(query), headers=_token_headers(user, None))
    assert not answered_by_django(headers)
    drf = client(user).get(NEARBY, query)
    return (status, content), (drf.status_code, drf.content)


# --- driver location -------------------------------------------------------------------------
def test_a_batch_of_points_is_accepted_on_the_hot_path_and_moves_the_driver(make_driver):
    driver = make_driver(PICKUP)
    moved_to = offset(PICKUP, 900)
    body = json.dumps({"points": [{"lat": PICKUP[0], "lng": PICKUP[1]},
                                  {"lat": moved_to[0], "lng": moved_to[1], "heading": 90, "speed": 8,
                                   "ts": time.time() + 1}]}).encode()
    status, headers, content = asgi("POST", LOCATION, body=body, headers=_token_headers(driver))
    assert (status, json.loads(content)) == (202, {"accepted": 2})
    assert not answered_by_django(headers)
    assert headers[b"content-type"] == b"application/json"
    hits = store.geo_search(area="sf", vehicle_type="economy", lat=moved_to[0], lng=moved_to[1], radius_m=50, count=5)
    assert [h.driver_id for h in hits] == [driver.id]
    assert store.driver_get(driver.id)["heading"] == "90.0"


def test_an_accepted_location_answers_the_same_bytes_as_the_drf_view(make_driver, client_for):
    driver = make_driver(PICKUP)
    hot, drf = post_both(client_for, driver, json.dumps({"lat": PICKUP[0], "lng": PICKUP[1]}).encode())
    assert hot == drf == (202, b'{"accepted":1}')


@pytest.mark.parametrize(("body", "field"), [
    (b'{"lat": 91, "lng": -122.4}', "lat"),
    (b'{"lat": 37.7, "lng": "west"}', "lng"),
    (b'{"lat": 37.7}', "lng"),
    (b'{"lat": 37.7, "lng": -122.4, "heading": 400}', "heading"),
    (b'{"points": []}', "points"),
    (json.dumps({"points": [{"lat": 37.7, "lng": -122.4}] * 51}).encode(), "points"),
    (b'{"points": [{"lat": 37.7, "lng": -122.4}, {"lat": "x", "lng": -122.4}]}', "points[1].lat"),
    (b'{"points": [7]}', "points[0]"),
    (b"[1, 2]", "non_field_errors"),
    (b"", "lat"),
])
def test_bad_location_input_is_the_same_400_naming_the_field(make_driver, client_for, body, field):
    driver = make_driver(PICKUP)
    hot, drf = post_both(client_for, driver, body)
    assert hot == drf
    assert hot[0] == 400
    assert field in json.loads(hot[1])["fields"]


@pytest.mark.parametrize("body", [
    b'{"lat": 91, "lng": -122.4}', b'{"lat": -90.0001, "lng": -122.4}', b'{"lat": 37.7, "lng": 180.5}',
    b'{"lat": 1e400, "lng": -122.4}', b'{"lat": 37.7, "lng": -1e400}',
    b'{"lat": ' + b"9" * 400 + b', "lng": -122.4}',
    b'{"lat": true, "lng": -122.4}', b'{"lat": null, "lng": -122.4}', b'{"lat": "", "lng": -122.4}',
    b'{"lat": [37.7], "lng": -122.4}', b'{"lat": {"x": 1}, "lng": -122.4}', b'{"lat": "nan", "lng": -122.4}',
    b'{"lat": "inf", "lng": -122.4}', b'{"lat": 37.7, "lng": -122.4, "speed": -1}',
    b'{"lat": 37.7, "lng": -122.4, "speed": 101}', b'{"lat": 37.7, "lng": -122.4, "heading": false}',
    b'{"lat": 37.7, "lng": -122.4, "ts": -1}', b'{"lat": 37.7, "lng": -122.4, "ts": 99999999999}',
    b'{"lat": 37.7, "lng": -122.4, "ts": "soon"}',
    b'{"points": {"lat": 37.7, "lng": -122.4}}', b'{"points": null}', b'{"points": "many"}',
    json.dumps({"points": [{"lat": 37.7, "lng": -122.4}] * 1000}).encode(),
    json.dumps({"points": [{"lat": 37.78, "lng": -122.42}] * 49 + [{"lat": 37.78, "lng": 1e400}]}).encode(),
    b'"a string"', b"42", b"null",
])
def test_hostile_location_input_is_the_same_400_on_both_paths(make_driver, client_for, body):
    driver = make_driver(PICKUP)
    before = store.driver_get(driver.id)
    hot, drf = post_both(client_for, driver, body)
    assert hot == drf
    assert hot[0] == 400
    assert store.driver_get(driver.id) == before  # nothing written by either
    assert store.history_length() == 0


@pytest.mark.parametrize("body", [
    b'{"lat": "37.78", "lng": "-122.42"}', b'{"lat": 37, "lng": -122}', b'{"lat": 37.78, "lng": -122.42, "x": [1]}',
    b'{"lat": 37.78, "lng": -122.42, "heading": null, "speed": 0, "ts": 1}',
    json.dumps({"points": [{"lat": 37.78 + i / 1e4, "lng": -122.42} for i in range(50)]}).encode(),
])
def test_unusual_but_valid_locations_are_the_same_202_on_both_paths(make_driver, client_for, body):
    driver = make_driver(PICKUP)
    hot, drf = post_both(client_for, driver, body)
    assert hot == drf
    assert hot[0] == 202


@pytest.mark.parametrize("body", [b'{"lat": 37.7,', b"[" * 200 + b"]" * 200, b'{"lat": NaN, "lng": 1}',
                                  b'{"lat": Infinity, "lng": 1}', b'{"lat": 37.7, "lng": -Infinity}',
                                  b"\xff\xfe", b'{"lat": 37.7} trailing'])
def test_a_body_that_is_not_acceptable_json_is_the_same_400(make_driver, client_for, body):
    driver = make_driver(PICKUP)
    hot, drf = post_both(client_for, driver, body)
    assert hot == drf
    assert hot[0] == 400
    assert json.loads(hot[1])["code"] == "parse_error"


def test_an_offline_driver_gets_the_same_409(make_user, client_for):
    driver = make_user("offline-driver")
    hot, drf = post_both(client_for, driver, b'{"lat": 37.78, "lng": -122.42}')
    assert hot == drf
    assert hot[0] == 409
    assert json.loads(hot[1])["code"] == "driver_offline"


def test_a_deactivated_driver_whose_token_is_still_cached_gets_the_same_401(make_driver, client_for):
    driver = make_driver(PICKUP)
    body = b'{"lat": 37.78, "lng": -122.42}'
    assert post_both(client_for, driver, body)[0][0] == 202  # the token is now cached
    type(driver).objects.filter(pk=driver.pk).update(is_active=False)
    body = b'{"lat": 37.77, "lng": -122.42}'
    status, headers, content = asgi("POST", LOCATION, body=body, headers=_token_headers(driver))
    drf = client_for(driver).generic("POST", LOCATION, body, content_type="application/json")
    assert (status, content) == (drf.status_code, drf.content)
    assert status == 401
    assert not answered_by_django(headers)
    assert headers[b"www-authenticate"] == drf["WWW-Authenticate"].encode()
    assert store.driver_get(driver.id)["lat"] == "37.78"  # the refused post wrote nothing


def test_a_busy_driver_is_the_same_202_on_both_paths(ride_in, client_for):
    _, driver = ride_in(RideStatus.ACCEPTED)
    hot, drf = post_both(client_for, driver, json.dumps(as_dict(offset(PICKUP, 100))).encode())
    assert hot == drf == (202, b'{"accepted":1}')


@pytest.mark.parametrize("body", [b'{"lat": 91, "lng": -122.4}', b'{"lat": 37.7,', b'{"lat": 37.78, "lng": -122.42}'])
def test_a_deactivated_driver_gets_the_same_401_whatever_the_body(make_driver, client_for, body):
    driver = make_driver(PICKUP)
    assert post_both(client_for, driver, b'{"lat": 37.78, "lng": -122.42}')[0][0] == 202  # the token is cached
    type(driver).objects.filter(pk=driver.pk).update(is_active=False)
    status, headers, content = asgi("POST", LOCATION, body=body, headers=_token_headers(driver))
    drf = client_for(driver).generic("POST", LOCATION, body, content_type="application/json")
    assert (status, content) == (drf.status_code, drf.content)
    assert (status, answered_by_django(headers)) == (401, False)


def test_a_location_without_a_token_or_with_an_unknown_one_is_left_to_django(make_driver):
    make_driver(PICKUP)
    body = b'{"lat": 37.78, "lng": -122.42}'
    status, headers, _ = asgi("POST", LOCATION, body=body, headers=[(b"content-type", b"application/json")])
    assert (status, answered_by_django(headers)) == (401, True)
    status, headers, _ = asgi("POST", LOCATION, body=body, headers=[
        (b"content-type", b"application/json"), (b"authorization", b"Token not-a-key")])
    assert (status, answered_by_django(headers)) == (401, True)


def test_a_browser_session_or_a_form_body_is_left_to_django(make_driver):
    driver = make_driver(PICKUP)
    body = b'{"lat": 37.78, "lng": -122.42}'
    _, headers, _ = asgi("POST", LOCATION, body=body, headers=[*_token_headers(driver), (b"cookie", b"sessionid=x")])
    assert answered_by_django(headers)
    _, headers, _ = asgi("POST", LOCATION, body=b"lat=37.78&lng=-122.42",
                         headers=_token_headers(driver, b"application/x-www-form-urlencoded"))
    assert answered_by_django(headers)


@pytest.mark.parametrize(("content_type", "hot", "expected"), [
    (b"application/json; charset=utf-8", True, 202), (b"Application/JSON", True, 202),
    (b"application/json; charset=latin-1", False, 202), (b"application/jsonp", False, 415),
])
def test_only_utf8_json_bodies_are_parsed_on_the_hot_path(make_driver, content_type, hot, expected):
    driver = make_driver(PICKUP)
    status, headers, _ = asgi("POST", LOCATION, body=b'{"lat": 37.78, "lng": -122.42}',
                              headers=_token_headers(driver, content_type))
    assert answered_by_django(headers) is not hot
    assert status == expected


def test_the_history_keeps_a_hot_path_body_as_sent(make_driver):
    driver = make_driver(PICKUP)
    body = json.dumps({"points": [as_dict(offset(PICKUP, 100)), as_dict(offset(PICKUP, 200))]}).encode()
    assert asgi("POST", LOCATION, body=body, headers=_token_headers(driver))[0] == 202
    (_, fields), = store.history_read("test", 10)
    assert (fields["d"], fields["p"]) == (str(driver.id), body.decode())


def test_a_large_body_goes_to_the_history_as_its_points(make_driver):
    driver = make_driver(PICKUP)
    padding = "x" * 400
    points = [{**as_dict(offset(PICKUP, 10 * i)), "note": padding} for i in range(30)]
    assert asgi("POST", LOCATION, body=json.dumps({"points": points}).encode(), headers=_token_headers(driver))[0] == 202
    (_, fields), = store.history_read("test", 10)
    assert padding not in fields["p"]
    assert [(p["lat"], p["lng"]) for p in json.loads(fields["p"])["points"]] == [(p["lat"], p["lng"]) for p in points]


def test_a_driver_moving_into_an_area_made_after_the_process_loaded_its_copy_is_indexed_there(make_driver):
    from rides.models import ServiceArea

    driver = make_driver(PICKUP)
    body = json.dumps(as_dict(offset(PICKUP, 500))).encode()
    assert asgi("POST", LOCATION, body=body, headers=_token_headers(driver))[0] == 202  # the copy is current
    ServiceArea.objects.create(slug="oak", name="Oakland",
                               polygon=[[37.78, -122.30], [37.84, -122.30], [37.84, -122.22], [37.78, -122.22]])
    oakland = (37.80, -122.27)

    status, headers, _ = asgi("POST", LOCATION, body=json.dumps(as_dict(oakland)).encode(),
                              headers=_token_headers(driver))

    assert (status, answered_by_django(headers)) == (202, False)
    assert store.driver_get(driver.id)["area"] == "oak"


# --- nearby drivers -----------------------------------------------------------------------------
@pytest.fixture
def fleet(make_driver):
    return [make_driver(offset(PICKUP, north_m)) for north_m in (120, 480, 900)]


def test_nearby_drivers_for_a_rider_are_the_same_rounded_answer_on_the_hot_path(fleet, rider, client_for):
    hot, drf = get_both(client_for, rider, {"lat": PICKUP[0], "lng": PICKUP[1], "limit": 2})
    assert hot == drf
    assert hot[0] == 200
    rows = json.loads(hot[1])
    assert [row["distance_m"] for row in rows] == [100, 500]
    assert all("driver" not in row for row in rows)


def test_nearby_drivers_for_staff_name_the_drivers_on_both_paths(fleet, make_user, client_for):
    staff = make_user("ops", is_staff=True)
    hot, drf = get_both(client_for, staff, {"lat": PICKUP[0], "lng": PICKUP[1], "vehicle_type": "economy"})
    assert hot == drf
    assert [row["driver"] for row in json.loads(hot[1])] == [str(d.id) for d in fleet]


@pytest.mark.parametrize(("query", "field"), [
    ({"lng": PICKUP[1]}, "lat"),
    ({"lat": "north", "lng": PICKUP[1]}, "lat"),
    ({"lat": PICKUP[0], "lng": 181}, "lng"),
    ({"lat": PICKUP[0], "lng": PICKUP[1], "radius_m": "far"}, "radius_m"),
    ({"lat": PICKUP[0], "lng": PICKUP[1], "limit": 0}, "limit"),
    ({"lat": PICKUP[0], "lng": PICKUP[1], "vehicle_type": "bike"}, "vehicle_type"),
])
def test_bad_nearby_input_is_the_same_400_naming_the_field(rider, client_for, query, field):
    hot, drf = get_both(client_for, rider, query)
    assert hot == drf
    assert hot[0] == 400
    assert field in json.loads(hot[1])["fields"]


def test_nearby_outside_every_service_area_is_the_same_400(rider, client_for):
    hot, drf = get_both(client_for, rider, {"lat": OUTSIDE[0], "lng": OUTSIDE[1]})
    assert hot == drf
    assert (hot[0], json.loads(hot[1])["code"]) == (400, "outside_service_area")


def test_nearby_in_an_area_made_after_the_process_loaded_its_copy_is_the_same_answer(fleet, rider, client_for):
    from rides.models import ServiceArea

    assert get_both(client_for, rider, {"lat": PICKUP[0], "lng": PICKUP[1]})[0][0] == 200  # the copy is current
    ServiceArea.objects.create(slug="oak", name="Oakland",
                               polygon=[[37.78, -122.30], [37.84, -122.30], [37.84, -122.22], [37.78, -122.22]])
    hot, drf = get_both(client_for, rider, {"lat": 37.80, "lng": -122.27})
    assert hot == drf == (200, b"[]")


@pytest.mark.parametrize("query", [
    {"lat": "nan", "lng": PICKUP[1]}, {"lat": "inf", "lng": PICKUP[1]}, {"lat": "1e400", "lng": PICKUP[1]},
    {"lat": PICKUP[0], "lng": "-Infinity"}, {"lat": PICKUP[0], "lng": PICKUP[1], "limit": "9" * 40},
    {"lat": PICKUP[0], "lng": PICKUP[1], "radius_m": "-5"}, {"lat": PICKUP[0], "lng": PICKUP[1], "limit": "51"},
    {"lat": PICKUP[0], "lng": PICKUP[1], "limit": "1.5"}, {"lat": "", "lng": ""},
    {"lat": "٣٧.٧٨", "lng": PICKUP[1], "limit": "١٠٠"}, {"lat": PICKUP[0], "lng": PICKUP[1], "vehicle_type": ["bike"]},
])
def test_hostile_nearby_input_is_the_same_400_on_both_paths(rider, client_for, query):
    hot, drf = get_both(client_for, rider, query)
    assert hot == drf
    assert hot[0] == 400


def test_nearby_reads_a_repeated_parameter_as_django_does(fleet, rider, client_for):
    query = urlencode([("lat", "0"), ("lat", PICKUP[0]), ("lng", PICKUP[1]), ("limit", "1"), ("limit", "2")])
    status, headers, content = asgi("GET", NEARBY, query=query, headers=_token_headers(rider, None))
    drf = client_for(rider).get(f"{NEARBY}?{query}")
    assert (status, content) == (drf.status_code, drf.content)
    assert not answered_by_django(headers)
    assert len(json.loads(content)) == 2


@pytest.mark.parametrize("query", ["lat=37.78&lng=-122.42&x=\u00e9".encode(), b"lat=37.78&lng=-122.42&" + b"a=1&" * 1001])
def test_a_query_django_reads_otherwise_is_left_to_django(fleet, rider, query):
    status, headers, _ = async_to_sync(asgi_http)("GET", NEARBY, query=query, headers=_token_headers(rider, None))
    assert answered_by_django(headers)


def test_nearby_with_an_accept_drf_answers_otherwise_is_left_to_django(fleet, rider):
    headers = [*_token_headers(rider, None), (b"accept", b"text/html")]
    _, headers, _ = asgi("GET", NEARBY, query=urlencode({"lat": PICKUP[0], "lng": PICKUP[1]}), headers=headers)
    assert answered_by_django(headers)


@pytest.mark.parametrize("query", [{"lat": PICKUP[0], "lng": PICKUP[1]}, {"lat": "north", "lng": PICKUP[1]}])
def test_a_deactivated_caller_gets_the_same_401_for_nearby_whatever_the_query(fleet, rider, client_for, query):
    assert get_both(client_for, rider, {"lat": PICKUP[0], "lng": PICKUP[1]})[0][0] == 200  # the token is cached
    type(rider).objects.filter(pk=rider.pk).update(is_active=False)
    status, headers, content = asgi("GET", NEARBY, query=urlencode(query), headers=_token_headers(rider, None))
    drf = client_for(rider).get(NEARBY, query)
    assert (status, content) == (drf.status_code, drf.content)
    assert (status, answered_by_django(headers)) == (401, False)


def test_nearby_without_a_token_is_left_to_django(fleet):
    status, headers, _ = asgi("GET", NEARBY, query=urlencode({"lat": PICKUP[0], "lng": PICKUP[1]}))
    assert (status, answered_by_django(headers)) == (401, True)


@pytest.fixture
def redis_down(settings):
    """Every Redis client pointed at a port nobody listens on (restored by the settings fixture)."""
    from core import hotredis
    from core.redis import reset_clients

    def reset():
        reset_clients()
        hotredis.reset_connections()

    def go_down():
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        reset()

    yield go_down
    reset()


def test_with_redis_down_a_location_gets_djangos_503_with_retry_after(make_driver, client_for, redis_down):
    driver = make_driver(PICKUP)
    client = client_for(driver)
    redis_down()
    body = b'{"lat": 37.78, "lng": -122.42}'
    status, headers, content = asgi("POST", LOCATION, body=body, headers=_token_headers(driver))
    drf = client.generic("POST", LOCATION, body, content_type="application/json")
    assert status == drf.status_code == 503
    assert not answered_by_django(headers)
    assert content == drf.content
    assert headers[b"retry-after"] == drf["Retry-After"].encode()


def test_a_location_the_hot_redis_connection_cannot_write_in_time_is_written_through_djangos_client(
        make_driver, monkeypatch):
    driver = make_driver(PICKUP)

    async def timed_out(write):
        raise TimeoutError("Redis did not answer within 0.5s")

    monkeypatch.setattr(store, "adriver_locate", timed_out)
    moved_to = offset(PICKUP, 300)
    status, headers, content = asgi("POST", LOCATION, body=json.dumps(as_dict(moved_to)).encode(),
                                    headers=_token_headers(driver))
    assert (status, content, answered_by_django(headers)) == (202, b'{"accepted":1}', False)
    assert float(store.driver_get(driver.id)["lat"]) == moved_to[0]


def test_with_redis_down_nearby_is_left_to_django(fleet, rider, redis_down):
    headers = _token_headers(rider, None)
    redis_down()
    status, headers, _ = asgi("GET", NEARBY, query=urlencode({"lat": PICKUP[0], "lng": PICKUP[1]}), headers=headers)
    assert (status, answered_by_django(headers)) == (503, True)
