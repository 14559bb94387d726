"""Crafted input to the shortener API: always a 4xx JSON error naming the field, never a 500 or a hang."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shortener.models import Link

pytestmark = pytest.mark.django_db
SHORTEN = "/api/v1/shorten"


def assert_field_error(response, field: str, status: int = 400):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] in ("invalid", "alias_reserved")
    assert field in body["fields"], body
    assert body["error"].startswith(f"{field}:")


@pytest.fixture
def link(make_link, auth_client):
    return make_link(owner=auth_client.user)


@pytest.mark.parametrize("value", [
    "2024-02-30T00:00:00",  # no such day
    "2023-02-29T12:00:00Z",  # not a leap year
    "2024-13-01T00:00:00",
    "2024-01-01T24:00:01",
    "2024-06-01T00:00:00+25:00",  # offsets stop short of 24 hours
    "2024-06-01T00:00:00-99:59",
    "0001-01-01T00:00:00+01:00",  # before the calendar's first moment in UTC
    "9999-12-31T23:59:59-01:00",  # after its last one
    "9999-12-31T23:59:59Z",  # representable, but past the longest expiry
    "99999-01-01T00:00:00",
    "",
    "now",
    "2024-06-01T00:00:00\x00",
    "٢٠٢٤-٠١-٠١T00:00:00",
    "2024-06-01T00:00:00+00:00" + "0" * 10_000,
    12345,
    True,
])
def test_patch_with_an_impossible_expiry_date_is_400(auth_client, link, value):
    response = auth_client.patch(f"/api/v1/links/{link.short_code}", {"expires_at": value}, format="json")
    assert_field_error(response, "expires_at")
    before = link.expires_at
    link.refresh_from_db()
    assert link.expires_at == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"expires_in_days": 10**30}, "expires_in_days"),
    ({"expires_in_days": -1}, "expires_in_days"),
    ({"expires_in_days": "1e400"}, "expires_in_days"),
    ({"max_clicks": -5}, "max_clicks"),
    ({"max_clicks": 2**63}, "max_clicks"),
    ({"max_clicks": 10**400}, "max_clicks"),
    ({"max_clicks": 1.5}, "max_clicks"),
    ({"redirect_type": 307}, "redirect_type"),
    ({"tags": [f"tag{i}" for i in range(11)]}, "tags"),
    ({"tags": ["\u202eevil"]}, "tags"),
    ({"long_url": "javascript:alert(1)"}, "long_url"),
    ({"password": "x" * 129}, "password"),
])
def test_patch_with_hostile_values_is_400_naming_the_field(auth_client, link, payload, field):
    response = auth_client.patch(f"/api/v1/links/{link.short_code}", payload, format="json")
    assert_field_error(response, field)


@pytest.mark.parametrize("query", [
    "to=0001-01-02",
    "to=0001-01-01",
    "from=0001-01-01&to=0001-01-05",
    "to=9999-12-31",
    "from=9999-12-31",
    "to=9999-12-31T23:59:59-01:00",
    "to=2024-02-30",
    "to=2024-06-01T00:00:00%2B25:00",
    "to=garbage",
    "to=",
    "to=%00",
    "to=99999-01-01",
    "to=1969-12-31",
])
def test_stats_bounds_at_the_calendars_edges_are_400_naming_to(auth_client, link, query):
    response = auth_client.get(f"/api/v1/links/{link.short_code}/stats?{query}")
    if query == "to=":  # an empty bound is no bound: the default last week
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.content[:300]
    assert set(response.json()["fields"]) & {"from", "to"}


@pytest.mark.parametrize(("query", "field"), [
    ("from=2024-03-01&to=2024-02-01", "from"),
    ("from=garbage&to=2024-02-01", "from"),
    ("from=2020-01-01&to=2024-01-01", "from"),
    ("granularity=minute", "granularity"),
    ("from=2024-01-01&to=2024-12-01&granularity=hour", "granularity"),
])
def test_stats_ranges_that_make_no_sense_are_400_naming_the_field(auth_client, link, query, field):
    response = auth_client.get(f"/api/v1/links/{link.short_code}/stats?{query}")
    assert_field_error(response, field)


def test_stats_at_the_supported_edge_still_answer(auth_client, link):
    response = auth_client.get(f"/api/v1/links/{link.short_code}/stats?from=2999-12-30&to=2999-12-31")
    assert response.status_code == 200
    assert response.json()["clicks"] == 0


@pytest.mark.parametrize(("payload", "field"), [
    ({"long_url": "https://example.com/", "max_clicks": 10**40}, "max_clicks"),
    ({"long_url": "https://example.com/", "max_clicks": -1}, "max_clicks"),
    ({"long_url": "https://example.com/", "max_clicks": 0}, "max_clicks"),
    ({"long_url": "https://example.com/", "max_clicks": "9" * 5000}, "max_clicks"),
    ({"long_url": "https://example.com/", "expires_in_days": 10**40}, "expires_in_days"),
    ({"long_url": "https://example.com/", "expires_in_days": -365}, "expires_in_days"),
    ({"long_url": "https://example.com/", "expires_in_days": 1.5}, "expires_in_days"),
    ({"long_url": "https://example.com/", "expires_in_days": True}, "expires_in_days"),
    ({"long_url": "https://example.com/", "custom_alias": "ünïcödé"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "abc\u202edef"}, "custom_alias"),  # right-to-left override
    ({"long_url": "https://example.com/", "custom_alias": "שלום-עולם"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "a" * 33}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "a" * 100_000}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "../admin"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "ADMIN"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": ["list"]}, "custom_alias"),
    ({"long_url": "javascript:alert(document.cookie)"}, "long_url"),
    ({"long_url": "JaVaScRiPt:alert(1)"}, "long_url"),
    ({"long_url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}, "long_url"),
    ({"long_url": "data:text/html," + "A" * 100_000}, "long_url"),
    ({"long_url": "https://example.com/" + "a" * 5000}, "long_url"),
    ({"long_url": "https://user:secret@example.com/"}, "long_url"),
    ({"long_url": "https://bank.example@evil.example/login"}, "long_url"),
    ({"long_url": "https://@evil.example/"}, "long_url"),
    ({"long_url": "https://example.com:99999/"}, "long_url"),
    ({"long_url": "https://[::1/"}, "long_url"),
    ({"long_url": "https://exa mple.com/"}, "long_url"),
    ({"long_url": "https://example.com/\u0000"}, "long_url"),
    ({"long_url": "//example.com/no-scheme"}, "long_url"),
    ({"long_url": 42}, "long_url"),
    ({"long_url": None}, "long_url"),
    ({"long_url": {"nested": "object"}}, "long_url"),
    ({"long_url": "https://example.com/", "tags": {"a": 1}}, "tags"),
    ({"long_url": "https://example.com/", "redirect_type": "301; drop table"}, "redirect_type"),
])
def test_shorten_with_hostile_values_is_400_naming_the_field(auth_client, payload, field):
    response = auth_client.post(SHORTEN, payload, format="json")
    assert_field_error(response, field)
    assert not Link.objects.exists()


@pytest.mark.parametrize("body", [b"[]", b'"a string"', b"42", b"null", b"[{}]"])
def test_shorten_with_a_json_body_that_is_not_an_object_is_400(auth_client, body):
    response = auth_client.generic("POST", SHORTEN, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"]["non_field_errors"]


@pytest.mark.parametrize("body", [b"{", b'{"long_url": NaN}', b"\xff\xfe{}", b'{"a": Infinity}'])
def test_shorten_with_broken_json_is_a_parse_error(auth_client, body):
    response = auth_client.generic("POST", SHORTEN, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_ten_megabyte_body_is_refused_with_a_4xx(auth_client):
    body = b'{"long_url": "https://example.com/", "tags": ["' + b"a" * (10 * 1024 * 1024) + b'"]}'
    response = auth_client.generic("POST", SHORTEN, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Link.objects.exists()


def test_a_ten_megabyte_csv_upload_is_refused_with_a_4xx(auth_client):
    upload = SimpleUploadedFile("big.csv", b"https://example.com/," + b"a" * (10 * 1024 * 1024))
    response = auth_client.post("/api/v1/links/import", {"file": upload}, format="multipart")
    assert 400 <= response.status_code < 500
    assert response.json()["code"]
    assert not Link.objects.exists()


@pytest.mark.parametrize(("content", "line"), [
    ("https://example.com/1\nhttps://example.com/2," + "x" * 131_073 + "\n", 2),
    ('https://example.com/1,"' + "x" * 200_000 + '"\n', 1),
])
def test_a_csv_field_past_the_csv_field_limit_is_400_naming_the_line(auth_client, content, line):
    upload = SimpleUploadedFile("links.csv", content.encode(), content_type="text/csv")
    response = auth_client.post("/api/v1/links/import", {"file": upload}, format="multipart")
    assert_field_error(response, "file")
    assert response.json()["fields"]["file"][0].startswith(f"Line {line}:")
    assert not Link.objects.exists()


def test_a_csv_with_nul_bytes_is_not_a_500(auth_client):
    upload = SimpleUploadedFile("links.csv", b"https://example.com/\x00,alias\n", content_type="text/csv")
    response = auth_client.post("/api/v1/links/import", {"file": upload}, format="multipart")
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        assert response.json()["failed"] == 1


@pytest.mark.parametrize("code", ["x" * 33, "%00", "..%2f..", "a/b", "\u202eabc"])
def test_link_endpoints_with_hostile_codes_are_404(auth_client, code):
    for suffix in ("", "/stats", "/qr.svg"):
        response = auth_client.get(f"/api/v1/links/{code}{suffix}")
        assert response.status_code == 404, (code, suffix)


def test_another_users_link_cannot_be_edited_read_or_deleted(make_link, make_user, client_for):
    owner, intruder = make_user("owner"), client_for(make_user("intruder"))
    link = make_link(owner=owner)
    base = f"/api/v1/links/{link.short_code}"
    assert intruder.get(base).status_code == 404
    assert intruder.get(f"{base}/stats").status_code == 404
    assert intruder.get(f"{base}/qr.svg").status_code == 404
    assert intruder.patch(base, {"expires_at": "2024-02-30T00:00:00"}, format="json").status_code == 404
    assert intruder.patch(base, {"long_url": "https://evil.example/"}, format="json").status_code == 404
    assert intruder.delete(base).status_code == 404
    link.refresh_from_db()
    assert link.long_url == "https://example.com/some/long/path" and link.state == "active"


# --- header injection and look-alike codes -------------------------------------------------------


@pytest.mark.parametrize(("payload", "field"), [
    ({"long_url": "https://example.com/\r\nSet-Cookie: session=stolen"}, "long_url"),
    ({"long_url": "https://example.com/\nLocation: https://evil.example/"}, "long_url"),
    ({"long_url": "https://example.com/\u2028next"}, "long_url"),
    ({"long_url": "https://example.com/", "custom_alias": "promo\r\nSet-Cookie:a=1"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "promo%0d%0aSet-Cookie:a=1"}, "custom_alias"),
    # Look-alikes never normalise into someone else's alias: full-width letters, ligatures, dotless i.
    ({"long_url": "https://example.com/", "custom_alias": "ｐｒｏｍｏ"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "ﬁnance"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "prıce"}, "custom_alias"),
    ({"long_url": "https://example.com/", "custom_alias": "promo\u200b"}, "custom_alias"),
])
def test_line_breaks_and_look_alikes_in_urls_and_aliases_are_400_naming_the_field(auth_client, payload, field):
    response = auth_client.post(SHORTEN, payload, format="json")
    assert_field_error(response, field)
    assert not Link.objects.exists()


def test_an_encoded_line_break_in_a_long_url_stays_encoded_in_the_location_header(auth_client, client):
    created = auth_client.post(SHORTEN, {"long_url": "https://example.com/a%0D%0ASet-Cookie:%20session=stolen"},
                               format="json")
    assert created.status_code == 201, created.content
    response = client.get(f"/{created.json()['short_code']}")
    assert response.status_code == 302
    assert response["Location"] == "https://example.com/a%0D%0ASet-Cookie:%20session=stolen"
    assert "session" not in response.cookies


@pytest.mark.parametrize("look_alike", ["ｐｒｏｍｏ", "PROMO", "promo\u200b", "pro%CC%81mo"])
def test_a_look_alike_of_an_alias_is_not_redirected_to_it(make_link, client, look_alike):
    make_link(custom_alias="promo")
    assert client.get("/promo").status_code == 302
    response = client.get("/" + look_alike)
    assert response.status_code == 404
    assert "Location" not in response
