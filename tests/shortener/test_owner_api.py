"""Owner API: list, detail, PATCH, DELETE, QR, CSV import, and isolation between users."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from shortener.models import Link, LinkState

pytestmark = pytest.mark.django_db
LINK_FIELDS = {"short_code", "short_url", "long_url", "created_at", "expires_at", "redirect_type", "tags",
               "click_count", "max_clicks", "has_password", "state"}


@pytest.fixture
def other(make_user, client_for):
    return client_for(make_user("mallory"))


def test_list_is_the_owners_links_newest_first_paginated(auth_client, make_link, make_user,
                                                        django_assert_max_num_queries):
    mine = [make_link(owner=auth_client.user, long_url=f"https://example.com/{i}") for i in range(5)]
    make_link(owner=make_user("bob"))
    make_link()
    with django_assert_max_num_queries(4):
        body = auth_client.get("/api/v1/links?page_size=2").json()
    assert body["count"] == 5
    assert [r["short_code"] for r in body["results"]] == [mine[4].short_code, mine[3].short_code]
    assert body["next"] and body["previous"] is None
    assert set(body["results"][0]) == LINK_FIELDS
    page3 = auth_client.get("/api/v1/links?page_size=2&page=3").json()
    assert [r["short_code"] for r in page3["results"]] == [mine[0].short_code]


def test_list_filters_by_tag_and_search(auth_client, make_link):
    make_link(owner=auth_client.user, long_url="https://docs.example/a", tags=["work"])
    make_link(owner=auth_client.user, long_url="https://fun.example/b", tags=["play"], custom_alias="weekend")
    make_link(owner=auth_client.user, long_url="https://work.example/c")
    assert [r["long_url"] for r in auth_client.get("/api/v1/links?tag=work").json()["results"]] == [
        "https://docs.example/a"]
    searched = {r["long_url"] for r in auth_client.get("/api/v1/links?search=work").json()["results"]}
    assert searched == {"https://docs.example/a", "https://work.example/c"}
    assert [r["short_code"] for r in auth_client.get("/api/v1/links?search=weekend").json()["results"]] == ["weekend"]


def test_list_requires_authentication(api_client):
    assert api_client.get("/api/v1/links").status_code in (401, 403)


def test_detail_returns_every_field(auth_client, make_link):
    link = make_link(owner=auth_client.user, password="pw", max_clicks=3, tags=["a"])
    body = auth_client.get(f"/api/v1/links/{link.short_code}").json()
    assert set(body) == LINK_FIELDS
    assert (body["has_password"], body["max_clicks"], body["tags"], body["state"]) == (True, 3, ["a"], "active")


def test_patch_changes_the_editable_fields(auth_client, make_link):
    link = make_link(owner=auth_client.user, password="pw")
    response = auth_client.patch(
        f"/api/v1/links/{link.short_code}",
        {"long_url": "https://example.com/new", "expires_in_days": 2, "redirect_type": 301, "tags": ["x", "y"],
         "password": None},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["long_url"], body["redirect_type"], body["tags"], body["has_password"]) == (
        "https://example.com/new", 301, ["x", "y"], False)
    link.refresh_from_db()
    assert (link.expires_at - link.updated_at).days == 1


def test_patch_with_bad_values_is_400_naming_the_field(auth_client, make_link):
    link = make_link(owner=auth_client.user)
    for payload, field in (({"long_url": "mailto:x@y.z"}, "long_url"), ({"expires_in_days": 0}, "expires_in_days"),
                           ({"redirect_type": 300}, "redirect_type"), ({"tags": "nope"}, "tags"),
                           ({"expires_at": "tomorrow"}, "expires_at")):
        response = auth_client.patch(f"/api/v1/links/{link.short_code}", payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json()["fields"]


def test_patch_expiry_into_the_future_reactivates_an_expired_link(auth_client, make_link, client):
    link = make_link(owner=auth_client.user)
    auth_client.patch(f"/api/v1/links/{link.short_code}", {"expires_at": "2001-01-01T00:00:00Z"}, format="json")
    assert client.get(f"/{link.short_code}").status_code == 410
    body = auth_client.patch(f"/api/v1/links/{link.short_code}", {"expires_in_days": 5}, format="json").json()
    assert body["state"] == "active"
    assert client.get(f"/{link.short_code}").status_code == 302


def test_delete_is_soft_and_idempotent(auth_client, make_link):
    link = make_link(owner=auth_client.user)
    assert auth_client.delete(f"/api/v1/links/{link.short_code}").status_code == 204
    assert auth_client.delete(f"/api/v1/links/{link.short_code}").status_code == 204
    link.refresh_from_db()
    assert link.state == LinkState.DELETED and link.deleted_at is not None
    assert auth_client.get("/api/v1/links").json()["count"] == 0
    assert auth_client.get(f"/api/v1/links/{link.short_code}").json()["state"] == "deleted"
    edit = auth_client.patch(f"/api/v1/links/{link.short_code}", {"tags": ["x"]}, format="json")
    assert edit.status_code == 410
    # The code stays taken: a deleted link's alias is never handed to someone else.
    again = auth_client.post("/api/v1/shorten", {"long_url": "https://example.com", "custom_alias": link.short_code},
                             format="json")
    assert again.status_code == 409


def test_another_users_link_is_404_everywhere(other, make_link, user):
    link = make_link(owner=user)
    code = link.short_code
    assert other.get(f"/api/v1/links/{code}").status_code == 404
    assert other.patch(f"/api/v1/links/{code}", {"long_url": "https://evil.example"}, format="json").status_code == 404
    assert other.delete(f"/api/v1/links/{code}").status_code == 404
    assert other.get(f"/api/v1/links/{code}/stats").status_code == 404
    assert other.get(f"/api/v1/links/{code}/qr.svg").status_code == 404
    assert other.get(f"/api/v1/links/{code}/qr.png").status_code == 404
    body = other.get(f"/api/v1/links/{code}").json()
    assert link.long_url not in str(body)
    link.refresh_from_db()
    assert link.state == LinkState.ACTIVE and link.long_url == "https://example.com/some/long/path"


def test_qr_codes_for_the_owner_and_for_anonymous_links(auth_client, make_link, api_client):
    mine = make_link(owner=auth_client.user)
    svg = auth_client.get(f"/api/v1/links/{mine.short_code}/qr.svg")
    assert svg.status_code == 200
    assert svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    png = auth_client.get(f"/api/v1/links/{mine.short_code}/qr.png")
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert api_client.get(f"/api/v1/links/{mine.short_code}/qr.svg").status_code == 404
    anonymous = make_link()
    assert api_client.get(f"/api/v1/links/{anonymous.short_code}/qr.png").status_code == 200
    assert api_client.get("/api/v1/links/nope-nope/qr.svg").status_code == 404
    assert auth_client.get(f"/api/v1/links/{mine.short_code}/qr.svg?scale=999").status_code == 400


def test_qr_encodes_the_short_url(auth_client, make_link):
    import segno
    from django.conf import settings

    link = make_link(owner=auth_client.user)
    expected = segno.make(f"{settings.PUBLIC_BASE_URL}/{link.short_code}", error="m")
    import io

    buffer = io.BytesIO()
    expected.save(buffer, kind="png", scale=8, border=2)
    assert auth_client.get(f"/api/v1/links/{link.short_code}/qr.png").content == buffer.getvalue()


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("links.csv", text.encode(), content_type="text/csv")


def test_csv_import_reports_each_row_and_bad_rows_do_not_stop_the_rest(auth_client, make_link):
    make_link(custom_alias="taken-one")
    csv_text = (
        "long_url,custom_alias,expires_in_days,tags\n"
        "https://example.com/1,,30,work;q3\n"
        "ftp://example.com/2,,,\n"
        "https://example.com/3,taken-one,,\n"
        "https://example.com/4,fresh-one,9999,\n"
        "https://example.com/5,fresh-two,,a b\n"
    )
    response = auth_client.post("/api/v1/links/import", {"file": _csv(csv_text)}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 3)
    results = body["results"]
    assert [r["row"] for r in results] == [1, 2, 3, 4, 5]
    assert [r["status"] for r in results] == ["created", "error", "error", "error", "created"]
    assert "long_url" in results[1]["fields"]
    assert results[2]["code"] == "alias_taken"
    assert "expires_in_days" in results[3]["fields"]
    assert results[4]["short_code"] == "fresh-two"
    created = Link.objects.get(short_code=results[0]["short_code"])
    assert created.owner == auth_client.user and created.tag_list == ["work", "q3"]
    assert Link.objects.get(short_code="fresh-two").tag_list == ["a", "b"]


def test_csv_import_without_a_header_uses_the_column_order(auth_client):
    response = auth_client.post("/api/v1/links/import", {"file": _csv("https://example.com/x,no-header-alias\n")},
                                format="multipart")
    assert response.json()["results"] == [{"row": 1, "status": "created", "short_code": "no-header-alias"}]


def test_csv_import_needs_a_file(auth_client, api_client):
    missing = auth_client.post("/api/v1/links/import", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["fields"]
    binary = auth_client.post("/api/v1/links/import", {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00")},
                              format="multipart")
    assert binary.status_code == 400 and "file" in binary.json()["fields"]
    assert api_client.post("/api/v1/links/import", {"file": _csv("https://example.com\n")},
                           format="multipart").status_code in (401, 403)


def test_endpoints_are_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    for path in ("/api/v1/shorten", "/api/v1/links", "/api/v1/links/import", "/api/v1/links/{code}",
                 "/api/v1/links/{code}/stats"):
        assert path in paths, path
    assert any("qr" in path for path in paths)


def test_patch_null_expiry_makes_the_link_never_expire(auth_client, make_link):
    link = make_link(owner=auth_client.user)
    response = auth_client.patch(f"/api/v1/links/{link.short_code}", {"expires_in_days": None}, format="json")
    assert response.status_code == 200
    assert response.json()["expires_at"] is None
    link.refresh_from_db()
    assert link.expires_at is None


def test_csv_import_with_an_overlong_field_is_400_naming_the_line(auth_client):
    csv_text = "long_url,custom_alias\nhttps://example.com/ok,\nhttps://example.com/x," + "a" * 140_000 + "\n"
    response = auth_client.post("/api/v1/links/import", {"file": _csv(csv_text)}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"]["file"][0].startswith("Line 3:")
    assert "field larger than field limit" in body["fields"]["file"][0]
    assert not Link.objects.filter(owner=auth_client.user).exists()


def test_csv_imports_are_rate_limited_per_user(auth_client, client_for, make_user):
    from shortener.services.imports import IMPORT_LIMIT

    for i in range(IMPORT_LIMIT.limit):
        response = auth_client.post("/api/v1/links/import", {"file": _csv(f"https://example.com/{i}\n")},
                                    format="multipart")
        assert response.status_code == 200
    limited = auth_client.post("/api/v1/links/import", {"file": _csv("https://example.com/x\n")}, format="multipart")
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) >= 1
    other = client_for(make_user("importer"))
    assert other.post("/api/v1/links/import", {"file": _csv("https://example.com/y\n")},
                      format="multipart").status_code == 200


def test_a_csv_import_is_not_cut_by_the_per_link_creation_limit(auth_client, settings):
    settings.SHORTENER_CREATE_PER_MINUTE = 2
    rows = "".join(f"https://example.com/{i}\n" for i in range(10))
    body = auth_client.post("/api/v1/links/import", {"file": _csv(rows)}, format="multipart").json()
    assert (body["created"], body["failed"]) == (10, 0)
