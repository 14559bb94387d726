"""Media attachments: upload checks, the sizes a worker makes, attaching to statuses."""

import io

import pytest
from PIL import Image

from feed.models import MediaAttachment
from tests.feed.helpers import post, run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_dirs(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"


def image_file(fmt: str = "JPEG", size=(2000, 1000), name: str = "photo.jpg", exif: bool = False,
               mode: str = "RGB") -> io.BytesIO:
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    out = io.BytesIO()
    kwargs = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0112] = 6  # Orientation: rotate 90°
        kwargs["exif"] = data
    image.save(out, format=fmt, **kwargs)
    out.seek(0)
    out.name = name
    return out


def upload(client, file=None, **extra):
    return client.post("/api/v2/media", {"file": file or image_file(), **extra}, format="multipart")


def test_an_upload_is_made_into_three_sizes_and_answers_200_when_ready_at_once(alice, as_user):
    response = upload(as_user(alice), description="a red square")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["type"] == "image" and body["description"] == "a red square"
    assert body["url"].endswith(".jpg") and "-large." in body["url"]
    assert "-thumb." in body["preview_url"]
    meta = body["meta"]
    assert (meta["thumb"]["width"], meta["thumb"]["height"]) == (150, 150)
    assert (meta["medium"]["width"], meta["medium"]["height"]) == (600, 300)
    assert (meta["large"]["width"], meta["large"]["height"]) == (1200, 600)
    assert meta["original"] == {"width": 2000, "height": 1000, "size": "2000x1000", "aspect": 2.0}
    for key in ("remote_url", "preview_remote_url", "text_url", "blurhash"):
        assert key in body


def test_202_with_a_null_url_while_processing_then_206_and_200(alice, as_user, monkeypatch):
    from feed import tasks
    from feed.services.media import media_process

    monkeypatch.setattr(tasks.process_media, "delay", lambda **kwargs: None)  # the worker is busy
    client = as_user(alice)
    response = upload(client)
    assert response.status_code == 202
    assert response.json()["url"] is None
    media_id = response.json()["id"]
    assert client.get(f"/api/v1/media/{media_id}").status_code == 206
    media_process(media_id=int(media_id))
    ready = client.get(f"/api/v1/media/{media_id}")
    assert ready.status_code == 200 and ready.json()["url"]


def test_the_sizes_carry_no_exif_and_are_turned_upright(alice, as_user, settings):
    body = upload(as_user(alice), image_file(size=(400, 200), exif=True)).json()
    media = MediaAttachment.objects.get(id=body["id"])
    from django.core.files.storage import default_storage

    for name in (media.thumb, media.medium, media.large):
        with default_storage.open(name) as handle:
            assert b"SecretCam" not in handle.read()
            handle.seek(0)
            with Image.open(handle) as image:
                assert not image.getexif()
    assert (body["meta"]["large"]["width"], body["meta"]["large"]["height"]) == (200, 400)  # rotated


def test_a_png_with_transparency_stays_a_png(alice, as_user):
    body = upload(as_user(alice), image_file("PNG", (300, 300), "a.png", mode="RGBA")).json()
    assert body["url"].endswith(".png")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_gif_and_webp_are_accepted(alice, as_user, fmt):
    assert upload(as_user(alice), image_file(fmt, (50, 40), f"a.{fmt.lower()}")).status_code == 200


def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(alice, as_user):
    fake = io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    fake.name = "cat.png"
    response = upload(as_user(alice), fake)
    assert response.status_code == 422
    assert "file" in response.json()["fields"]
    assert MediaAttachment.objects.count() == 0


def test_a_missing_file_is_a_422_naming_it(alice, as_user):
    response = as_user(alice).post("/api/v2/media", {"description": "x"}, format="multipart")
    assert response.status_code == 422 and "file" in response.json()["fields"]


def test_a_file_over_the_size_limit_is_refused(alice, as_user, settings):
    settings.FEED_MEDIA_MAX_BYTES = 1000
    response = upload(as_user(alice))
    assert response.status_code == 422 and "file" in response.json()["fields"]


def test_an_image_over_the_pixel_budget_is_refused_before_decoding(alice, as_user, settings):
    settings.IMAGE_MAX_PIXELS = 100 * 100
    response = upload(as_user(alice), image_file(size=(200, 200)))
    assert response.status_code == 400 and "file" in response.json()["fields"]


def test_a_truncated_image_is_marked_failed_by_the_worker(alice, as_user):
    data = image_file(size=(800, 800)).getvalue()
    broken = io.BytesIO(data[: len(data) // 3])
    broken.name = "x.jpg"
    response = upload(as_user(alice), broken)
    assert response.status_code == 202  # the header is fine; decoding fails in the worker
    media_id = response.json()["id"]
    assert MediaAttachment.objects.get(id=media_id).failed
    failed = as_user(alice).get(f"/api/v1/media/{media_id}")
    assert failed.status_code == 422 and "file" in failed.json()["fields"]
    status = as_user(alice).post("/api/v1/statuses", {"status": "x", "media_ids": [media_id]}, format="json")
    assert status.status_code == 422


def test_a_description_can_be_changed_and_is_limited(alice, as_user):
    client = as_user(alice)
    media_id = upload(client).json()["id"]
    response = client.put(f"/api/v1/media/{media_id}", {"description": "new words"}, format="json")
    assert response.status_code == 200 and response.json()["description"] == "new words"
    too_long = client.put(f"/api/v1/media/{media_id}", {"description": "x" * 1501}, format="json")
    assert too_long.status_code == 422 and "description" in too_long.json()["fields"]


def test_someone_elses_media_is_not_found(alice, bob, as_user):
    media_id = upload(as_user(alice)).json()["id"]
    assert as_user(bob).get(f"/api/v1/media/{media_id}").status_code == 404
    assert as_user(bob).put(f"/api/v1/media/{media_id}", {"description": "mine"}, format="json").status_code == 404
    assert as_user(bob).get(f"/api/v1/media/{2**64}").status_code == 404
    assert as_user(bob).get("/api/v1/media/abc").status_code == 404


def test_a_status_with_media_shows_the_attachments(alice, bob, as_user):
    client = as_user(alice)
    ids = [upload(client).json()["id"] for _ in range(2)]
    status = post(client, "", **{"media_ids": ids})
    assert [m["id"] for m in status["media_attachments"]] == ids
    assert status["media_attachments"][0]["url"].startswith("http")
    seen = as_user(bob).get(f"/api/v1/statuses/{status['id']}").json()
    assert [m["id"] for m in seen["media_attachments"]] == ids
    only_media = as_user(bob).get(f"/api/v1/accounts/{alice.id}/statuses", {"only_media": "true"}).json()
    assert [s["id"] for s in only_media] == [status["id"]]


@pytest.mark.parametrize("case", ["five", "someone_elses", "attached", "unknown", "past_64_bits"])
def test_bad_media_ids_are_a_422(alice, bob, as_user, case):
    client = as_user(alice)
    own = [upload(client).json()["id"] for _ in range(5 if case == "five" else 1)]
    ids = {
        "five": own,
        "someone_elses": [upload(as_user(bob)).json()["id"]],
        "attached": own,
        "unknown": ["12345"],
        "past_64_bits": [str(2**64)],
    }[case]
    if case == "attached":
        post(client, "first", media_ids=own)
    response = client.post("/api/v1/statuses", {"status": "hi", "media_ids": ids}, format="json")
    assert response.status_code == 422, response.content
    assert "media_ids" in response.json()["fields"]


def test_two_statuses_racing_for_one_attachment_take_it_once(alice, as_user):
    client = as_user(alice)
    media_id = upload(client).json()["id"]

    def attempt(i):
        return as_user(alice).post("/api/v1/statuses", {"status": f"race {i}", "media_ids": [media_id]},
                                   format="json").status_code

    codes = run_concurrently(attempt, 4)
    assert sorted(codes) == [200, 422, 422, 422]
    assert MediaAttachment.objects.get(id=media_id).status_id is not None


def test_media_is_served_as_an_image_with_nosniff(alice, as_user, client):
    body = upload(as_user(alice)).json()
    path = body["url"].split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_upload_needs_the_media_scope(alice):
    from tests.feed.oauth_helpers import bearer, user_token

    client = bearer(user_token(alice, scope="read write:statuses"))
    assert upload(client).status_code == 403
    assert upload(bearer(user_token(alice, scope="write:media"))).status_code == 200


def test_a_body_declared_far_past_the_limit_is_refused_before_reading(alice, as_user, settings, monkeypatch):
    from feed.services import media as media_service

    settings.FEED_MEDIA_MAX_BYTES = 1000
    called = []
    monkeypatch.setattr(media_service, "media_upload", lambda **kw: called.append(kw))
    big = io.BytesIO(b"\xff" * 200_000)
    big.name = "big.jpg"
    response = upload(as_user(alice), big)
    assert response.status_code == 422 and "file" in response.json()["fields"]
    assert called == []
