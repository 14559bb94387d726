"""The ride sockets end to end through config.asgi.application: /ws/rides/{id}/ and /ws/rides/driver/."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from core.services import token_for
from rides import consumers, store
from rides.models import Ride, RideStatus
from rides.services import dispatch, drivers, sharing, trips
from tests.asgi import asgi_http
from tests.chat.conftest import Socket
from tests.rides.conftest import DROPOFF, PICKUP, as_dict, expire_offer, offset

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = [(b"origin", b"http://testserver")]


@pytest.fixture(autouse=True)
def _steady_speed(settings):
    settings.RIDES_SPEED_KMH_BY_HOUR = [36.0] * 24  # 10 m/s: ETAs are road metres / 10
    settings.RIDES_ROAD_FACTOR = 1.0


class Opened:
    def __init__(self, communicator: WebsocketCommunicator, accepted: bool):
        self.socket = Socket(communicator)
        self.accepted = accepted

    async def close_code(self, timeout: float = 3) -> int:
        output = await self.socket.communicator.receive_output(timeout=timeout)
        assert output["type"] == "websocket.close", output
        return output.get("code")


@pytest.fixture
async def open_socket():
    """``await open_socket(path, user=None, query="")`` → Opened (accepted or not); all closed after."""
    from config.asgi import application

    opened: list[Opened] = []

    async def make(path: str, user=None, query: str = "") -> Opened:
        params = [query] if query else []
        if user is not None:
            params.append(f"token={(await database_sync_to_async(token_for)(user)).key}")
        communicator = WebsocketCommunicator(application, f"{path}?{'&'.join(params)}", headers=ORIGIN)
        accepted, _ = await communicator.connect()
        result = Opened(communicator, accepted)
        opened.append(result)
        return result

    yield make
    for result in opened:
        try:
            await result.socket.close()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001, S110 - the app already ended
            pass


def _watch(ride_id) -> str:
    return f"/ws/rides/{ride_id}/"


DRIVER_SOCKET = "/ws/rides/driver/"


def _request(rider) -> Ride:
    ride = trips.ride_request(rider=rider, pickup=as_dict(PICKUP), dropoff=as_dict(DROPOFF), vehicle_type="economy")
    return Ride.objects.get(pk=ride.pk)


arequest = database_sync_to_async(_request)


async def _online(make_driver, north_m: float = 200):
    return await database_sync_to_async(make_driver)(offset(PICKUP, north_m))


async def _accepted(rider, make_driver):
    driver = await _online(make_driver)
    ride = await arequest(rider)
    assert ride.driver_id == driver.id
    await database_sync_to_async(dispatch.ride_accept)(driver=driver, ride_id=ride.id)
    return ride, driver


# --- the driver socket -------------------------------------------------------------------------
async def test_a_requested_ride_is_offered_on_the_driver_socket(rider, make_driver, open_socket):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    await driver_socket.assert_silent()  # nothing open: no first frame

    ride = await arequest(rider)

    offer = await driver_socket.receive()
    assert offer["type"] == "ride.offer"
    assert offer["ride"] == str(ride.id)
    assert offer["pickup"] == as_dict(PICKUP) and offer["dropoff"] == as_dict(DROPOFF)
    assert offer["fare"] == {"amount": f"{ride.estimated_fare:.2f}", "currency": "USD"}
    assert offer["expires_at"] == ride.offer_expires_at.isoformat()


async def test_an_offer_that_times_out_is_revoked_and_offered_to_the_next_driver(rider, make_driver, open_socket):
    first = await _online(make_driver, 200)
    second = await _online(make_driver, 600)
    first_socket = (await open_socket(DRIVER_SOCKET, first)).socket
    second_socket = (await open_socket(DRIVER_SOCKET, second)).socket
    ride = await arequest(rider)
    assert (await first_socket.receive())["type"] == "ride.offer"

    await database_sync_to_async(expire_offer)(ride)
    await database_sync_to_async(dispatch.offers_expire_due)()

    assert await first_socket.receive() == {"type": "offer.revoked", "ride": str(ride.id)}
    offer = await second_socket.receive()
    assert (offer["type"], offer["ride"]) == ("ride.offer", str(ride.id))
    await first_socket.assert_silent()


async def test_a_declined_offer_is_revoked_on_the_drivers_socket(rider, make_driver, open_socket):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    ride = await arequest(rider)
    await driver_socket.receive_type("ride.offer")

    await database_sync_to_async(dispatch.ride_decline)(driver=driver, ride_id=ride.id)

    assert await driver_socket.receive() == {"type": "offer.revoked", "ride": str(ride.id)}


async def test_a_reconnecting_driver_gets_the_open_offer_then_the_assigned_ride_first(rider, make_driver,
                                                                                      open_socket):
    driver = await _online(make_driver)
    ride = await arequest(rider)

    offered = (await open_socket(DRIVER_SOCKET, driver)).socket
    first = await offered.receive()
    assert (first["type"], first["ride"]) == ("ride.offer", str(ride.id))
    await offered.close()

    await database_sync_to_async(dispatch.ride_accept)(driver=driver, ride_id=ride.id)
    assigned = (await open_socket(DRIVER_SOCKET, driver)).socket
    first = await assigned.receive()
    assert (first["type"], first["ride"], first["status"]) == ("ride.status", str(ride.id), "accepted")
    assert first["driver"]["username"] == driver.username
    await assigned.assert_silent()


async def test_the_driver_socket_refuses_users_who_are_not_drivers_and_strangers_without_a_token(make_user,
                                                                                                open_socket):
    not_a_driver = await database_sync_to_async(make_user)()
    opened = await open_socket(DRIVER_SOCKET, not_a_driver)
    assert await opened.close_code() == 4403
    anonymous = await open_socket(DRIVER_SOCKET)
    assert await anonymous.close_code() == 4401


async def test_location_frames_move_the_driver_like_the_http_endpoint(make_driver, open_socket):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    moved_to = offset(PICKUP, 900)

    await driver_socket.send({"type": "location", "lat": moved_to[0], "lng": moved_to[1], "heading": 90,
                              "speed": 8.5})
    await driver_socket.assert_silent()  # no answer to a good frame
    # Frames are handled in order: once a later frame is answered, the location is stored.
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive())["code"] == "unknown_type"

    position = await database_sync_to_async(store.driver_get)(driver.id)
    assert (float(position["lat"]), float(position["lng"]), float(position["heading"]), float(position["speed"])) == (
        moved_to[0], moved_to[1], 90.0, 8.5)
    hits = await database_sync_to_async(store.geo_search)(area="sf", vehicle_type="economy", lat=moved_to[0],
                                                          lng=moved_to[1], radius_m=50, count=5)
    assert [h.driver_id for h in hits] == [driver.id]  # re-indexed: it moved more than 50 m


@pytest.mark.parametrize(("frame", "code", "field"), [
    ("not json", "invalid", None),
    ("[1, 2]", "invalid", None),
    ({"type": "dance"}, "unknown_type", None),
    ({"type": "location", "lat": "north", "lng": -122.4}, "invalid_coordinate", "lat"),
    ({"type": "location", "lat": 37.78, "lng": 200}, "invalid_coordinate", "lng"),
    ({"type": "location", "lat": 37.78, "lng": -122.4, "heading": 400}, "invalid", "heading"),
    ({"type": "location", "lat": 37.78, "lng": -122.4, "speed": True}, "invalid", "speed"),
    ({"type": "location", "points": [{"lat": 37.78, "lng": -122.4}]}, "invalid", "points"),
    ("x" * 5000, "invalid", None),
    ("[" * 3000, "invalid", None),  # nesting past the limit, never a crash
    ('{"type": "location", "lat": NaN, "lng": -122.4}', "invalid", None),
])
async def test_a_bad_driver_frame_gets_an_error_frame_naming_the_field_and_the_socket_stays_open(
        make_driver, open_socket, frame, code, field):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    await driver_socket.send(frame if isinstance(frame, str) else {**frame, "ref": "r1"})

    error = await driver_socket.receive()

    assert error["type"] == "error" and error["code"] == code, error
    if field:
        assert list(error["fields"]) == [field] and error["ref"] == "r1"
    # Still open and working.
    await driver_socket.send({"type": "location", "lat": PICKUP[0], "lng": PICKUP[1]})
    await driver_socket.assert_silent()


async def test_a_location_frame_from_a_driver_who_went_offline_gets_driver_offline(make_driver, open_socket):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    await database_sync_to_async(drivers.driver_offline)(user=driver)

    await driver_socket.send({"type": "location", "lat": PICKUP[0], "lng": PICKUP[1]})

    error = await driver_socket.receive()
    assert (error["type"], error["code"]) == ("error", "driver_offline")


# --- the ride socket ---------------------------------------------------------------------------
async def test_each_transition_reaches_the_rider_the_driver_and_a_share_viewer(rider, make_driver, open_socket):
    driver = await _online(make_driver)
    ride = await arequest(rider)
    link = await database_sync_to_async(sharing.ride_share)(user=rider, ride_id=ride.id)
    sockets = {
        "rider": (await open_socket(_watch(ride.id), rider)).socket,
        "driver": (await open_socket(_watch(ride.id), driver)).socket,
        "share": (await open_socket(_watch(ride.id), query=f"share={link.token}")).socket,
    }
    for socket in sockets.values():
        first = await socket.receive()
        assert (first["type"], first["status"], first["driver"]) == ("ride.status", "offered", None)

    for step in (dispatch.ride_accept, trips.ride_arrive, trips.ride_start, trips.ride_complete):
        await database_sync_to_async(step)(driver=driver, ride_id=ride.id)

    for name, socket in sockets.items():
        frames = [await socket.receive() for _ in range(4)]
        assert [(f["type"], f["status"]) for f in frames] == [
            ("ride.status", "accepted"), ("ride.status", "arrived"), ("ride.status", "in_progress"),
            ("ride.status", "completed")], name
        assert {f["ride"] for f in frames} == {str(ride.id)}
        assert frames[0]["driver"] == {"username": driver.username, "vehicle_type": "economy", "rating": 5.0}
        assert "rider" not in frames[0] and "fare" not in frames[0]  # a share viewer sees neither
    # The link died with the ride: its viewer's socket ends, a new one is refused.
    assert await Opened(sockets["share"].communicator, True).close_code() == 1000
    again = await open_socket(_watch(ride.id), query=f"share={link.token}")
    assert await again.close_code() == 4403
    await sockets["rider"].assert_silent()


async def test_a_cancellation_reaches_the_rider_and_the_drivers_own_socket(rider, make_driver, open_socket):
    ride, driver = await _accepted(rider, make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    assert (await driver_socket.receive())["status"] == "accepted"
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    assert (await rider_socket.receive())["status"] == "accepted"

    await database_sync_to_async(trips.ride_cancel)(user=rider, ride_id=ride.id, reason="plans changed")

    assert (await rider_socket.receive())["type"] == "driver.location"  # the state's second frame
    for socket in (driver_socket, rider_socket):
        frame = await socket.receive()
        assert (frame["type"], frame["ride"], frame["status"]) == ("ride.status", str(ride.id), "cancelled")


async def test_the_assigned_drivers_location_reaches_the_rider_with_an_eta(rider, make_driver, open_socket):
    ride, driver = await _accepted(rider, make_driver)
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    await rider_socket.receive_type("ride.status")
    await rider_socket.receive_type("driver.location")  # the last known position comes with the state
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    await driver_socket.receive_type("ride.status")
    near = offset(PICKUP, 100)

    await driver_socket.send({"type": "location", "lat": near[0], "lng": near[1], "heading": 180})

    frame = await rider_socket.receive()
    assert frame == {"type": "driver.location", "lat": near[0], "lng": near[1], "heading": 180.0, "eta_s": 10}


async def test_a_busy_drivers_position_posted_on_the_hot_path_reaches_the_rider(rider, make_driver, open_socket):
    ride, driver = await _accepted(rider, make_driver)
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    await rider_socket.receive_type("ride.status")
    await rider_socket.receive_type("driver.location")
    near = offset(PICKUP, 100)
    token = (await database_sync_to_async(token_for)(driver)).key

    status, headers, _ = await asgi_http("POST", "/api/v1/rides/driver/location", body=json.dumps(as_dict(near)).encode(),
                                         headers=[(b"content-type", b"application/json"),
                                                  (b"authorization", f"Token {token}".encode())])

    assert (status, b"x-frame-options" in headers) == (202, False)  # answered on the hot path
    frame = await rider_socket.receive()
    assert (frame["type"], frame["lat"], frame["lng"]) == ("driver.location", near[0], near[1])


async def test_location_frames_arriving_during_a_write_are_written_together_next(make_driver, open_socket,
                                                                                monkeypatch):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    first_write_may_finish = asyncio.Event()
    writes = []
    write = drivers.adriver_location

    async def held(**kwargs):
        writes.append([p["lat"] for p in kwargs["points"]])
        if len(writes) == 1:
            await first_write_may_finish.wait()
        return await write(**kwargs)

    checked = []
    parse_points = drivers.parse_points
    monkeypatch.setattr(drivers, "adriver_location", held)
    monkeypatch.setattr(drivers, "parse_points", lambda *args: checked.append(1) or parse_points(*args))
    path = [offset(PICKUP, 100 * i) for i in range(1, 6)]
    await driver_socket.send({"type": "location", **as_dict(path[0])})
    async with asyncio.timeout(5):
        while not writes:  # the first frame's write has begun
            await asyncio.sleep(0.01)
    for point in path[1:]:
        await driver_socket.send({"type": "location", **as_dict(point)})
    async with asyncio.timeout(5):
        while len(checked) < len(path):  # every frame arrived (the first write still waiting)
            await asyncio.sleep(0.01)
    first_write_may_finish.set()
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive())["code"] == "unknown_type"

    assert writes == [[path[0][0]], [p[0] for p in path[1:]]]
    position = await database_sync_to_async(store.driver_get)(driver.id)
    assert (float(position["lat"]), float(position["lng"])) == path[-1]
    entries = await database_sync_to_async(store.history_read)("test", 10)
    assert [len(json.loads(fields["p"])["points"]) for _, fields in entries] == [1, 4]


async def test_location_frames_sent_back_to_back_share_a_write(make_driver, open_socket, monkeypatch):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    monkeypatch.setattr(consumers, "LOCATION_GATHER_SECONDS", 1.0)  # ample time for three frames to arrive

    for north in (100, 200, 300):
        await driver_socket.send({"type": "location", **as_dict(offset(PICKUP, north))})
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive())["code"] == "unknown_type"

    entries = await database_sync_to_async(store.history_read)("test", 10)
    assert [len(json.loads(fields["p"])["points"]) for _, fields in entries] == [3]


async def test_frames_the_hot_redis_connection_cannot_write_in_time_are_written_through_djangos_client(
        make_driver, open_socket, monkeypatch):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket

    async def timed_out(write):
        raise TimeoutError("Redis did not answer within 0.5s")

    monkeypatch.setattr(store, "adriver_locate", timed_out)
    await driver_socket.send({"type": "location", **as_dict(offset(PICKUP, 300))})
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive())["code"] == "unknown_type"  # no error frame before it
    position = await database_sync_to_async(store.driver_get)(driver.id)
    assert float(position["lat"]) == offset(PICKUP, 300)[0]


async def test_location_frames_make_no_hop_to_the_shared_database_thread(make_driver, open_socket, monkeypatch):
    import channels.consumer

    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    cleanups = []
    close_old_connections = channels.consumer.aclose_old_connections
    monkeypatch.setattr(channels.consumer, "aclose_old_connections",
                        lambda: cleanups.append(1) or close_old_connections())

    for north in (100, 200, 300):
        await driver_socket.send({"type": "location", **as_dict(offset(PICKUP, north))})
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive())["code"] == "unknown_type"

    assert cleanups == []
    position = await database_sync_to_async(store.driver_get)(driver.id)
    assert float(position["lat"]) == offset(PICKUP, 300)[0]


async def test_a_socket_sending_faster_than_redis_answers_waits_for_the_writes(make_driver, open_socket):
    driver = await _online(make_driver)
    driver_socket = (await open_socket(DRIVER_SOCKET, driver)).socket
    path = [offset(PICKUP, 2 * i) for i in range(600)]
    for point in path:
        await driver_socket.send({"type": "location", **as_dict(point)})
    await driver_socket.send({"type": "barrier"})
    assert (await driver_socket.receive(timeout=30))["code"] == "unknown_type"

    position = await database_sync_to_async(store.driver_get)(driver.id)
    assert (float(position["lat"]), float(position["lng"])) == path[-1]
    entries = await database_sync_to_async(store.history_read)("test", 1000)
    points = [p["lat"] for _, fields in entries for p in json.loads(fields["p"])["points"]]
    assert points == [p[0] for p in path]  # every point, in order, at most 50 an entry
    assert max(len(json.loads(fields["p"])["points"]) for _, fields in entries) <= 50


async def test_driver_locations_are_throttled_per_ride(rider, make_driver, open_socket, client_for, settings):
    settings.RIDES_LOCATION_PUBLISH_SECONDS = 30
    ride, driver = await _accepted(rider, make_driver)
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    await rider_socket.receive_type("ride.status")
    await rider_socket.receive_type("driver.location")
    api = await database_sync_to_async(client_for)(driver)

    for north in (150, 100, 50):
        point = offset(PICKUP, north)
        response = await database_sync_to_async(api.post)("/api/v1/rides/driver/location",
                                                          {"lat": point[0], "lng": point[1]}, format="json")
        assert response.status_code == 202

    frame = await rider_socket.receive()
    assert (frame["type"], frame["lat"]) == ("driver.location", offset(PICKUP, 150)[0])
    await rider_socket.assert_silent()


async def test_a_free_drivers_location_is_sent_to_nobody(rider, make_driver, open_socket):
    driver = await _online(make_driver)
    ride = await arequest(rider)  # offered, not accepted: the rider may not follow the driver yet
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    assert (await rider_socket.receive())["status"] == "offered"

    await database_sync_to_async(drivers.driver_location)(user=driver, data={"lat": PICKUP[0], "lng": PICKUP[1]})

    await rider_socket.assert_silent()


async def test_a_reconnecting_rider_gets_the_current_state_first(rider, make_driver, open_socket):
    ride, driver = await _accepted(rider, make_driver)
    await database_sync_to_async(trips.ride_arrive)(driver=driver, ride_id=ride.id)

    socket = (await open_socket(_watch(ride.id), rider)).socket

    state = await socket.receive()
    assert (state["type"], state["status"], state["driver"]["username"]) == ("ride.status", "arrived",
                                                                              driver.username)
    position = await socket.receive()
    driver_at = offset(PICKUP, 200)
    assert position == {"type": "driver.location", "lat": pytest.approx(driver_at[0]),
                        "lng": pytest.approx(driver_at[1]), "heading": None, "eta_s": 0}


async def test_strangers_are_refused(rider, make_driver, make_user, open_socket):
    ride, _ = await _accepted(rider, make_driver)
    stranger = await database_sync_to_async(make_user)()
    other_rider = await database_sync_to_async(make_user)()
    await _online(make_driver, 400)
    other_ride = await arequest(other_rider)
    other_link = await database_sync_to_async(sharing.ride_share)(user=other_rider, ride_id=other_ride.id)

    cases = [
        (await open_socket(_watch(ride.id), stranger), 4404),
        (await open_socket(_watch(ride.id)), 4404),  # no account, no link
        (await open_socket(_watch(ride.id), query="share=forged.token:here"), 4403),
        (await open_socket(_watch(ride.id), query=f"share={other_link.token}"), 4403),  # another ride's link
        (await open_socket(_watch(ride.id), query=f"share={other_link.token}x"), 4403),
        (await open_socket(_watch(987654321), rider), 4404),
        (await open_socket(_watch(99999999999999999999), rider), 4404),  # past 64 bits: the catch-all route
    ]
    for opened, code in cases:
        assert await opened.close_code() == code
    wrong_token = await open_socket(_watch(ride.id), query="token=not-a-token")
    assert await wrong_token.close_code() == 4401


async def test_the_ride_socket_is_read_only_and_stays_open(rider, make_driver, open_socket):
    ride, driver = await _accepted(rider, make_driver)
    socket = (await open_socket(_watch(ride.id), rider)).socket
    await socket.receive_type("ride.status")
    await socket.receive_type("driver.location")

    await socket.send({"type": "location", "lat": 1, "lng": 2, "ref": 7})
    error = await socket.receive()
    assert (error["type"], error["code"], error["ref"]) == ("error", "read_only", 7)
    await socket.send("{broken")
    assert (await socket.receive())["code"] == "invalid"

    await database_sync_to_async(trips.ride_arrive)(driver=driver, ride_id=ride.id)
    assert (await socket.receive())["status"] == "arrived"


async def test_a_driver_whose_offer_passed_on_stops_following_the_ride(rider, make_driver, open_socket):
    first = await _online(make_driver, 200)
    second = await _online(make_driver, 600)
    ride = await arequest(rider)
    assert ride.driver_id == first.id
    socket = await open_socket(_watch(ride.id), first)
    assert (await socket.socket.receive())["status"] == "offered"

    await database_sync_to_async(dispatch.ride_decline)(driver=first, ride_id=ride.id)

    assert await socket.close_code() == 4403  # closed before the next driver's offer could show
    assert await database_sync_to_async(lambda: Ride.objects.get(pk=ride.id).driver_id)() == second.id
    late = await open_socket(_watch(ride.id), first)
    assert await late.close_code() == 4404


async def test_a_rolled_back_transition_is_never_announced(rider, make_driver, open_socket):
    from django.db import transaction

    ride, driver = await _accepted(rider, make_driver)
    socket = (await open_socket(_watch(ride.id), rider)).socket
    await socket.receive_type("ride.status")
    await socket.receive_type("driver.location")

    def arrive_then_fail():
        with transaction.atomic():
            trips.ride_arrive(driver=driver, ride_id=ride.id)
            raise RuntimeError("the write fails after the transition")

    with pytest.raises(RuntimeError):
        await database_sync_to_async(arrive_then_fail)()

    await socket.assert_silent()
    assert await database_sync_to_async(lambda: Ride.objects.get(pk=ride.id).status)() == RideStatus.ACCEPTED


def test_frames_are_json_serialisable_builders():
    from rides import events

    assert json.loads(json.dumps(events.offer_revoked(5))) == {"type": "offer.revoked", "ride": "5"}


def _session_cookie(user) -> tuple[bytes, bytes]:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


async def _connect_with(path: str, headers: list) -> tuple[bool, dict | None]:
    from config.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _ = await communicator.connect()
    first = await communicator.receive_output(timeout=3) if accepted else None
    await communicator.disconnect()
    return accepted, first


async def test_the_ride_socket_trusts_a_session_cookie_only_from_an_allowed_origin(rider, make_driver):
    ride, _ = await _accepted(rider, make_driver)
    cookie = await database_sync_to_async(_session_cookie)(rider)

    accepted, first = await _connect_with(_watch(ride.id), [*ORIGIN, cookie])
    assert accepted and json.loads(first["text"])["status"] == "accepted"
    # Without an Origin the cookie does not count (no browser page sent it): an anonymous stranger.
    accepted, first = await _connect_with(_watch(ride.id), [cookie])
    assert accepted and first == {"type": "websocket.close", "code": 4404}
    # A page elsewhere cannot use the rider's cookie, nor a share link, from the browser.
    accepted, _ = await _connect_with(_watch(ride.id), [(b"origin", b"https://evil.example"), cookie])
    assert not accepted


async def test_anonymous_sockets_stay_refused_on_every_other_route(open_socket):
    for path in ("/ws/chat/", DRIVER_SOCKET):
        assert await (await open_socket(path)).close_code() == 4401


async def test_during_the_trip_the_eta_is_to_the_dropoff(rider, make_driver, open_socket):
    from rides.geo import eta_seconds, great_circle_m

    ride, driver = await _accepted(rider, make_driver)
    for step in (trips.ride_arrive, trips.ride_start):
        await database_sync_to_async(step)(driver=driver, ride_id=ride.id)
    rider_socket = (await open_socket(_watch(ride.id), rider)).socket
    assert (await rider_socket.receive())["status"] == "in_progress"
    await rider_socket.receive_type("driver.location")
    on_the_way = offset(DROPOFF, -1000)

    await database_sync_to_async(drivers.driver_location)(user=driver, data=as_dict(on_the_way))

    frame = await rider_socket.receive()
    assert frame["type"] == "driver.location"
    assert frame["eta_s"] == eta_seconds(great_circle_m(*on_the_way, *DROPOFF)) == 100
