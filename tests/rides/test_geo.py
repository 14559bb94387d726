"""Distances, ETAs by hour of day, polygons, coordinates; the service-area admin."""

from datetime import UTC, datetime

import pytest

from core.errors import FieldError
from rides.geo import eta_seconds, great_circle_m, parse_coordinate, point_in_polygon


def test_great_circle_distance_of_a_known_pair():
    # Ferry Building to Oakland City Hall: about 10.7 km as the crow flies.
    assert great_circle_m(37.7955, -122.3937, 37.8053, -122.2726) == pytest.approx(10_700, rel=0.01)
    assert great_circle_m(0, 0, 0, 1) == pytest.approx(111_195, rel=0.001)


def test_the_eta_follows_the_speed_of_the_local_hour(settings):
    settings.RIDES_ROAD_FACTOR = 1.5
    settings.RIDES_SPEED_KMH_BY_HOUR = [36.0] * 8 + [18.0] + [36.0] * 15
    settings.RIDES_TIME_ZONE = "America/Los_Angeles"
    eight_am_in_sf = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 08:30 PST
    night_in_sf = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 02:00 PST
    assert eta_seconds(1000, eight_am_in_sf) == 300  # 1,500 road metres at 5 m/s
    assert eta_seconds(1000, night_in_sf) == 150  # at 10 m/s


def test_point_in_polygon_for_a_concave_shape():
    # An L: the notch at the top right is outside.
    ell = [[0, 0], [0, 2], [1, 2], [1, 1], [2, 1], [2, 0]]
    assert point_in_polygon(0.5, 1.5, ell)
    assert point_in_polygon(1.5, 0.5, ell)
    assert not point_in_polygon(1.5, 1.5, ell)
    assert not point_in_polygon(3, 3, ell)


@pytest.mark.parametrize("value", ["nan", float("inf"), "1e999", "x", None, True, 91, "-90.0001"])
def test_bad_latitudes_name_the_field(value):
    with pytest.raises(FieldError) as caught:
        parse_coordinate("pickup.lat", value, kind="lat")
    assert list(caught.value.extra["fields"]) == ["pickup.lat"]


@pytest.mark.parametrize(("value", "expected"), [("37.5", 37.5), (-90, -90.0), (179.9, 179.9)])
def test_good_coordinates_pass(value, expected):
    assert parse_coordinate("lng", value, kind="lng") == expected


@pytest.mark.django_db
def test_the_admin_keeps_a_service_areas_bounding_box_and_refuses_a_bad_polygon(make_user, client):
    from rides.models import ServiceArea

    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    url = "/admin/rides/servicearea/add/"
    bad = client.post(url, {"slug": "bad", "name": "Bad", "polygon": "[[1, 2], [3, 400]]", "active": "on"})
    assert bad.status_code == 200 and not ServiceArea.objects.filter(slug="bad").exists()
    good = client.post(url, {"slug": "oak", "name": "Oakland", "active": "on",
                             "polygon": "[[37.78, -122.30], [37.84, -122.30], [37.78, -122.22]]"})
    assert good.status_code == 302
    area = ServiceArea.objects.get(slug="oak")
    assert (area.min_lat, area.max_lat, area.min_lng, area.max_lng) == (37.78, 37.84, -122.30, -122.22)
