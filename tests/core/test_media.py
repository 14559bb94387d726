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
