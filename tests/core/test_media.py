import secrets

import pytest
from django.conf import settings


@pytest.fixture
def uploaded_file():
    folder = settings.MEDIA_ROOT / "test-media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(8)}.txt"
    path.write_text("hello from an upload")
    yield f"/media/test-media/{path.name}"
    path.unlink(missing_ok=True)


@pytest.mark.django_db
def test_uploads_are_served_from_the_same_address_with_debug_off(client, settings, uploaded_file):
    settings.DEBUG = False

    response = client.get(uploaded_file)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello from an upload"


@pytest.mark.django_db
def test_a_missing_upload_is_a_404_not_a_redirect_lookup(client):
    response = client.get("/media/test-media/nope.txt")

    assert response.status_code == 404


def _public_file(name: str, data: bytes):
    folder = settings.MEDIA_ROOT / "test-media"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(8)}-{name}"
    path.write_bytes(data)
    return path


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "data"), [
    ("page.html", b"<script>alert(1)</script>"),
    ("fake.png", b"<html><script>alert(1)</script></html>"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
])
def test_public_media_that_is_not_a_raster_image_is_a_sandboxed_download(client, name, data):
    path = _public_file(name, data)
    try:
        response = client.get(f"/media/test-media/{path.name}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox; default-src 'none'"
        assert b"".join(response.streaming_content) == data
    finally:
        path.unlink()


@pytest.mark.django_db
def test_public_media_png_is_inline_with_its_true_type_whatever_its_name(client):
    path = _public_file("photo.txt", _png())
    try:
        response = client.get(f"/media/test-media/{path.name}")
        assert response["Content-Type"] == "image/png"
        assert response["Content-Disposition"].startswith("inline")
        assert response["X-Content-Type-Options"] == "nosniff"
    finally:
        path.unlink()


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["../settings.py", "..%2f..%2fpyproject.toml", "%2e%2e/secret_key", "test-media/"])
def test_public_media_never_leaves_the_media_root(client, path):
    assert client.get(f"/media/{path}").status_code == 404
