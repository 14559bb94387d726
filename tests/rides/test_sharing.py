"""Share links: a signed read-only link for the rider's ride, dead when the ride ends."""

from urllib.parse import urlsplit

import pytest
from django.utils.dateparse import parse_datetime

from rides.models import RideStatus
from rides.selectors import ride_for_share
from rides.services import trips

pytestmark = pytest.mark.django_db
BASE = "/api/v1/rides"


def _token(url: str) -> str:
    path = urlsplit(url).path
    assert path.startswith("/rides/share/") and path.endswith("/"), path
    return path.removeprefix("/rides/share/").rstrip("/")


def test_the_rider_gets_a_share_link_that_names_the_ride(ride_in, rider, client_for, settings):
    ride, _ = ride_in(RideStatus.ACCEPTED)

    response = client_for(rider).post(f"{BASE}/{ride.id}/share")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"url", "expires_at"}
    assert body["url"].startswith(settings.PUBLIC_BASE_URL + "/rides/share/")
    expires = parse_datetime(body["expires_at"])
    assert expires is not None and expires.tzinfo is not None
    assert ride_for_share(_token(body["url"])).id == ride.id


def test_two_links_differ_from_the_ride_id_and_cannot_be_forged(ride_in, rider, client_for):
    ride, _ = ride_in(RideStatus.OFFERED)
    token = _token(client_for(rider).post(f"{BASE}/{ride.id}/share").json()["url"])
    assert str(ride.id) not in token  # not readable, not guessable from the id
    head, _, signature = token.rpartition(":")
    forged = f"{head}:{'A' * len(signature)}"
    for bad in (forged, token[:-1], token + "x", "", str(ride.id), "a" * 500, None, 12):
        assert ride_for_share(bad) is None, bad


@pytest.mark.parametrize("state", [RideStatus.REQUESTED, RideStatus.ARRIVED, RideStatus.IN_PROGRESS])
def test_a_link_lives_while_the_ride_does(ride_in, rider, client_for, state):
    ride, _ = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/share")
    assert response.status_code == 201 and ride_for_share(_token(response.json()["url"])).id == ride.id


def test_a_link_dies_when_the_ride_ends(ride_in, rider, client_for, run_commits):
    ride, driver = ride_in(RideStatus.IN_PROGRESS)
    token = _token(client_for(rider).post(f"{BASE}/{ride.id}/share").json()["url"])
    run_commits(trips.ride_complete, driver=driver, ride_id=ride.id)
    assert ride_for_share(token) is None


def test_a_link_expires(ride_in, rider, client_for, settings):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    token = _token(client_for(rider).post(f"{BASE}/{ride.id}/share").json()["url"])
    settings.RIDES_SHARE_SECONDS = -1  # every link is older than that
    assert ride_for_share(token) is None


@pytest.mark.parametrize("state", [RideStatus.COMPLETED, RideStatus.CANCELLED, RideStatus.NO_DRIVERS])
def test_an_ended_ride_cannot_be_shared(ride_in, rider, client_for, state):
    ride, _ = ride_in(state)
    response = client_for(rider).post(f"{BASE}/{ride.id}/share")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["status"]) == ("invalid_transition", state)


def test_only_the_rider_may_share(ride_in, client_for, make_user, staff_user):
    ride, driver = ride_in(RideStatus.ACCEPTED)
    for user in (driver, make_user(), staff_user):
        response = client_for(user).post(f"{BASE}/{ride.id}/share")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert client_for(driver).post(f"{BASE}/99999999999999999999/share").status_code == 404


def test_a_share_link_needs_a_login(ride_in, api_client):
    ride, _ = ride_in(RideStatus.ACCEPTED)
    assert api_client.post(f"{BASE}/{ride.id}/share").status_code == 401


def test_the_schema_documents_the_share_endpoint(auth_client):
    schema = auth_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "/api/v1/rides/{ride_id}/share" in schema["paths"]
    assert set(schema["components"]["schemas"]["ShareOut"]["properties"]) == {"url", "expires_at"}


@pytest.fixture
def staff_user(make_user):
    return make_user(is_staff=True)
