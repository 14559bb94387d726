"""Attachments: the type comes from the bytes, downloads are checked, images cannot be bombs."""

import io
import struct
import tracemalloc
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from chat.models import Attachment
from chat.services.attachments import attachment_thumbnail_make
from chat.services.conversations import conversation_create, members_remove
from chat.services.messages import message_send

pytestmark = pytest.mark.django_db

BASE = "/api/v1/chat"
HTML = b"<!doctype html><script>fetch('/api/v1/auth/me').then(r => r.text()).then(alert)</script>"
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>')


@pytest.fixture(autouse=True)
def storage_roots(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "public"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    return tmp_path


def _image(format_: str, size=(640, 480), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "red" if mode != "1" else 1).save(out, format=format_)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_from_rows(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _bomb_png(side: int = 13000) -> bytes:
    """A valid side×side 1-bit PNG of zeros: a few KB on disk, side² pixels when decoded."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return _png_from_rows(side, side, idat)


def _upload(api, name: str, data: bytes, declared: str):
    return api.post(f"{BASE}/attachments", {"file": SimpleUploadedFile(name, data, declared)}, format="multipart")


def _upload_and_process(api, django_capture_on_commit_callbacks, name, data, declared) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api, name, data, declared)
    assert response.status_code == 201, response.content
    return response.json()


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _assert_download(response, body: bytes) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert _body(response) == body


# --- the type comes from the bytes ----------------------------------------------
def test_html_uploaded_as_png_is_stored_and_served_as_a_download(client_for, alice, django_capture_on_commit_callbacks):
    api = client_for(alice)
    body = _upload_and_process(api, django_capture_on_commit_callbacks, "cat.png", HTML, "image/png")
    assert body["content_type"] == "application/octet-stream" and body["thumbnail_url"] is None
    assert Attachment.objects.get(id=int(body["id"])).image_verified is False
    _assert_download(api.get(body["url"]), HTML)


def test_svg_is_never_inline(client_for, alice, django_capture_on_commit_callbacks):
    api = client_for(alice)
    body = _upload_and_process(api, django_capture_on_commit_callbacks, "logo.svg", SVG, "image/svg+xml")
    assert body["content_type"] == "application/octet-stream" and body["thumbnail_url"] is None
    _assert_download(api.get(body["url"]), SVG)


@pytest.mark.parametrize(("format_", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                                        ("GIF", "image/gif"), ("WEBP", "image/webp")])
def test_a_decoded_raster_image_is_served_inline_with_its_true_type(
        client_for, alice, django_capture_on_commit_callbacks, format_, content_type):
    api = client_for(alice)
    data = _image(format_)
    body = _upload_and_process(api, django_capture_on_commit_callbacks, "photo.bin", data, "text/html")
    assert body["content_type"] == content_type
    response = api.get(body["url"])
    assert response.status_code == 200 and _body(response) == data
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    thumbnail = api.get(body["url"] + "/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] in ("image/png", "image/jpeg")
    with Image.open(io.BytesIO(_body(thumbnail))) as image:
        assert max(image.size) <= 320


def test_a_png_header_with_undecodable_pixels_becomes_a_download(client_for, alice, django_capture_on_commit_callbacks):
    api = client_for(alice)
    data = _png_from_rows(64, 64, b"this is not zlib data" * 4)
    body = _upload_and_process(api, django_capture_on_commit_callbacks, "broken.png", data, "image/png")
    attachment = Attachment.objects.get(id=int(body["id"]))
    assert attachment.content_type == "application/octet-stream" and not attachment.image_verified
    assert not attachment.thumbnail
    _assert_download(api.get(body["url"]), data)
    assert api.get(body["url"] + "/thumbnail").status_code == 404


# --- thumbnails are made by a worker --------------------------------------------
def test_the_thumbnail_is_made_by_the_task_after_commit(client_for, alice, django_capture_on_commit_callbacks):
    api = client_for(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _upload(api, "photo.png", _image("PNG", (1600, 1200)), "image/png")
    body = response.json()
    assert response.status_code == 201 and body["content_type"] == "image/png" and body["thumbnail_url"] is None
    attachment = Attachment.objects.get(id=int(body["id"]))
    assert not attachment.thumbnail and not attachment.image_verified
    before = api.get(body["url"])  # not decoded yet: a download, not an inline image
    assert before["Content-Disposition"].startswith("attachment")

    for callback in callbacks:
        callback()  # the eager Celery task: chat.make_attachment_thumbnail

    attachment.refresh_from_db()
    assert attachment.image_verified
    with attachment.thumbnail.open("rb") as handle, Image.open(handle) as thumbnail:
        assert thumbnail.size == (320, 240)
    assert attachment_thumbnail_make(attachment_id=attachment.id) is False  # idempotent
    assert api.get(body["url"])["Content-Disposition"].startswith("inline")


def test_a_thumbnail_made_after_the_message_was_deleted_is_not_kept(
        client_for, alice, bob, direct, django_capture_on_commit_callbacks, storage_roots):
    api = client_for(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload = _upload(api, "photo.png", _image("PNG"), "image/png").json()
    sent, _ = message_send(sender=alice, conversation_id=direct.id, client_id="x", content="",
                           attachment_ids=[upload["id"]])
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(f"{BASE}/messages/{sent['id']}")
    for callback in callbacks:
        callback()
    assert not Attachment.objects.exists()
    assert not list((storage_roots / "private" / "chat" / "thumbnails").glob("*/*"))


# --- decompression bombs ----------------------------------------------------------
def test_a_13000_square_png_is_refused_without_being_decoded(client_for, alice, monkeypatch):
    data = _bomb_png()
    assert len(data) < 600 * 1024
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: loads.append(self) or real_load(self))
    api = client_for(alice)

    tracemalloc.start()
    try:
        response = _upload(api, "bomb.png", data, "image/png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 400
    assert response.json()["code"] == "image_too_large" and "file" in response.json()["fields"]
    assert "13000×13000" in response.json()["fields"]["file"][0]
    assert loads == []
    assert peak < 50 * 1024 * 1024
    assert not Attachment.objects.exists()


def test_the_pixel_budget_is_a_setting(client_for, alice, settings):
    settings.IMAGE_MAX_PIXELS = 100 * 100
    api = client_for(alice)
    assert _upload(api, "ok.png", _image("PNG", (100, 100)), "image/png").status_code == 201
    refused = _upload(api, "big.png", _image("PNG", (101, 100)), "image/png")
    assert refused.status_code == 400 and "file" in refused.json()["fields"]


def test_the_worker_does_not_decode_an_image_over_the_budget(alice, settings):
    from chat.services.attachments import attachment_upload

    attachment = attachment_upload(owner=alice, uploaded=SimpleUploadedFile("p.png", _image("PNG"), "image/png"))
    settings.IMAGE_MAX_PIXELS = 10  # lowered after the upload passed
    assert attachment_thumbnail_make(attachment_id=attachment.id) is False
    attachment.refresh_from_db()
    assert not attachment.image_verified and not attachment.thumbnail


# --- who may download -------------------------------------------------------------
@pytest.fixture
def sent_image(client_for, alice, bob, carol, make_user, django_capture_on_commit_callbacks):
    make_user("dave")
    conversation, _ = conversation_create(creator=alice, usernames=["bob", "dave"], title="Team")
    upload = _upload_and_process(client_for(alice), django_capture_on_commit_callbacks, "p.png", _image("PNG"),
                                 "image/png")
    sent, _ = message_send(sender=alice, conversation_id=conversation.id, client_id="p", content="",
                           attachment_ids=[upload["id"]])
    assert sent["attachments"][0]["thumbnail_url"]
    return conversation, sent["attachments"][0]


def test_a_member_of_the_conversation_gets_the_file_and_thumbnail(client_for, bob, sent_image):
    _, upload = sent_image
    api = client_for(bob)
    assert api.get(upload["url"]).status_code == 200
    assert api.get(upload["thumbnail_url"]).status_code == 200


def test_a_non_member_gets_the_same_404_as_for_a_missing_attachment(client_for, carol, sent_image):
    _, upload = sent_image
    api = client_for(carol)
    for url in (upload["url"], upload["thumbnail_url"]):
        response = api.get(url)
        assert response.status_code == 404 and not response.has_header("Content-Disposition")
        assert response.json() == api.get(f"{BASE}/attachments/1").json()


def test_an_anonymous_caller_gets_401(api_client, sent_image):
    _, upload = sent_image
    assert api_client.get(upload["url"]).status_code == 401
    assert api_client.get(upload["thumbnail_url"]).status_code == 401


def test_the_session_of_the_web_page_is_enough(client, bob, carol, sent_image):
    _, upload = sent_image
    client.force_login(bob)
    assert client.get(upload["url"]).status_code == 200
    client.force_login(carol)
    assert client.get(upload["url"]).status_code == 404


def test_a_member_who_left_loses_access(client_for, alice, bob, sent_image):
    conversation, upload = sent_image
    members_remove(actor=bob, conversation_id=conversation.id, usernames=["bob"])
    assert client_for(bob).get(upload["url"]).status_code == 404
    assert client_for(alice).get(upload["url"]).status_code == 200


def test_an_unsent_upload_is_readable_by_its_uploader_only(client_for, alice, bob, direct):
    upload = _upload(client_for(alice), "notes.txt", b"draft", "text/plain").json()
    assert client_for(alice).get(upload["url"]).status_code == 200
    assert client_for(bob).get(upload["url"]).status_code == 404


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775808", "-1", "abc"])
def test_hostile_attachment_ids_in_the_url_are_404(client_for, alice, value):
    assert client_for(alice).get(f"{BASE}/attachments/{value}").status_code == 404
    assert client_for(alice).get(f"{BASE}/attachments/{value}/thumbnail").status_code == 404


def test_private_files_are_not_under_the_public_media_root(client, sent_image, storage_roots):
    attachment = Attachment.objects.get()
    assert (storage_roots / "private" / attachment.file.name).is_file()
    assert not (storage_roots / "public").exists() or not list((storage_roots / "public").rglob("*"))
    assert client.get(f"/media/{attachment.file.name}").status_code == 404


def test_with_serve_media_off_the_checked_download_is_handed_to_the_proxy(client_for, bob, carol, sent_image,
                                                                          settings):
    settings.SERVE_MEDIA = False
    _, upload = sent_image
    attachment = Attachment.objects.get()
    response = client_for(bob).get(upload["url"])
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/internal-media/{attachment.file.name}"
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    thumbnail = client_for(bob).get(upload["thumbnail_url"])
    assert thumbnail["X-Accel-Redirect"] == f"/internal-media/{attachment.thumbnail.name}"
    refused = client_for(carol).get(upload["url"])
    assert refused.status_code == 404 and not refused.has_header("X-Accel-Redirect")


def test_the_admin_shows_a_message_with_private_attachments(client, django_user_model, sent_image):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-long-enough-123")
    client.force_login(admin)
    message = Attachment.objects.get().message
    response = client.get(f"/admin/chat/message/{message.id}/change/")
    assert response.status_code == 200
    assert b"p.png" in response.content


def test_under_asgi_a_download_streams_in_chunks_without_reading_the_file_whole(async_client, bob, sent_image):
    import warnings

    from asgiref.sync import async_to_sync

    from core.services import token_for

    _, upload = sent_image
    token = token_for(bob).key

    async def fetch():
        response = await async_client.get(upload["url"], headers={"Authorization": f"Token {token}"})
        return response, [chunk async for chunk in response.streaming_content]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns when it has to read a sync file whole
        response, chunks = async_to_sync(fetch)()

    attachment = Attachment.objects.get()
    with attachment.file.open("rb") as handle:
        stored = handle.read()
    assert response.status_code == 200 and b"".join(chunks) == stored
    assert response["Content-Length"] == str(len(stored)) and response["Content-Type"] == "image/png"


@pytest.mark.parametrize("range_header", [
    "bytes=0-3", "bytes=-1", "bytes=5-1", "bytes=99999999999999999999999-", "bytes=-99999999999999999999999",
    "items=0-1", "bytes=0-0," * 2000, "bytes=\x00-\xff",
])
def test_a_hostile_range_header_on_a_download_is_the_file_a_part_of_it_or_416(client_for, bob, sent_image,
                                                                                range_header):
    _, upload = sent_image
    api = client_for(bob)
    whole = _body(api.get(upload["url"]))
    response = api.get(upload["url"], HTTP_RANGE=range_header)
    assert response.status_code in (200, 206, 416), response.status_code
    if response.status_code == 200:
        assert _body(response) == whole
    elif response.status_code == 206:
        first, last = (int(n) for n in response["Content-Range"].split()[1].split("/")[0].split("-"))
        assert _body(response) == whole[first:last + 1]
    assert response["X-Content-Type-Options"] == "nosniff"
