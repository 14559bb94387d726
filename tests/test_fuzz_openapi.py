"""Schemathesis over the project's own OpenAPI document (drf-spectacular, /api/schema/).

Every operation of the included path prefixes (the platform, shortener, chat, feed and rides) is called in-process through the WSGI app with a
bounded, derandomised set of generated requests, signed in as a user who owns real objects (a
link with a known code, a conversation with messages, an attachment), whose ids replace the
generated path parameters in part of the examples so the operations reach real objects, not only
404s. Checks: no 5xx, every response conforms to the documented schema, no undocumented status.
"""

import io

import pytest
import schemathesis
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from config.wsgi import application

# The operations the fuzz run covers: the platform, the shortener and chat …
FUZZED_PATH_PREFIXES = (
    "/api/v1/auth/",
    "/api/v1/shorten",
    "/api/v1/links",
    "/api/v1/chat/",
)
# … and the feed (Mastodon API) and rides, with fewer examples per operation to keep the run short.
FUZZED_LIGHTLY_PATH_PREFIXES = (
    "/api/v1/accounts", "/api/v1/statuses", "/api/v1/timelines", "/api/v1/media", "/api/v1/notifications",
    "/api/v1/instance", "/api/v1/custom_emojis", "/api/v1/apps", "/api/v2/",
    "/api/v1/rides",
)
# APIs still changing, fuzzed once they settle (move their prefixes to a list above).
NOT_YET_FUZZED_PATH_PREFIXES: tuple[str, ...] = ()
EXAMPLES_PER_OPERATION = 12
EXAMPLES_PER_LIGHT_OPERATION = 8
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _schema(prefixes: tuple[str, ...]):
    # Mastodon's paths answer with a trailing slash too: the same views, fuzzed once without it.
    return schemathesis.openapi.from_wsgi("/api/schema/", application).include(
        path_regex="^(" + "|".join(prefix.replace(".", r"\.") for prefix in prefixes) + ")"
    ).exclude(path_regex="/$")


schema = _schema(FUZZED_PATH_PREFIXES)
light_schema = _schema(FUZZED_LIGHTLY_PATH_PREFIXES)

# Filled per test by the `world` fixture; read by the hook below while examples are generated.
REAL_PATH_PARAMETERS: dict[str, str] = {}


@schema.hook
@light_schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half of the examples aim at the signed-in user's real objects, the rest stay as generated."""
    if not path_parameters:
        return st.just(path_parameters)
    real = {name: REAL_PATH_PARAMETERS.get(name, value) for name, value in path_parameters.items()}
    return st.sampled_from([real, path_parameters])


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), "teal").save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: the request must not close the connection holding the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(keep_test_connection, db, make_user, settings, tmp_path, django_capture_on_commit_callbacks):
    from chat.services.attachments import attachment_upload
    from chat.services.conversations import conversation_create
    from chat.services.messages import message_send
    from feed.services.interactions import status_favourite
    from feed.services.media import media_upload
    from feed.services.statuses import status_publish
    from rides.services.trips import ride_request
    from shortener.services.links import link_create, link_input_from

    settings.MEDIA_ROOT = tmp_path / "public"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    owner = make_user("fuzzer")
    friend = make_user("friend")
    make_user("stranger")
    link = link_create(owner=owner, data=link_input_from({"long_url": "https://example.com/page", "tags": ["t"]}))
    conversation, _ = conversation_create(creator=owner, usernames=["friend"])
    with django_capture_on_commit_callbacks(execute=True):
        attachment = attachment_upload(owner=owner, uploaded=SimpleUploadedFile("pic.png", _png(), "image/png"))
    message, _ = message_send(sender=owner, conversation_id=conversation.id, client_id="fuzz-1",
                              content="hello https://example.com", attachment_ids=[str(attachment.id)])
    with django_capture_on_commit_callbacks(execute=True):
        media = media_upload(account=owner, file=SimpleUploadedFile("feed.png", _png(), "image/png"))
        status, _ = status_publish(account=owner, text="hello #fuzz @friend")
        status_favourite(account=friend, status_id=status.id)  # a notification for the owner
        ride = ride_request(rider=owner, pickup={"lat": 37.7793, "lng": -122.4193},
                            dropoff={"lat": 37.8024, "lng": -122.4058}, vehicle_type="economy")
    notification = owner.feed_notifications.get()
    REAL_PATH_PARAMETERS.clear()
    REAL_PATH_PARAMETERS.update({
        "code": link.short_code,
        "fmt": "png",
        "conversation_id": str(conversation.id),
        "message_id": str(message["id"]),
        "attachment_id": str(attachment.id),
        "username": "friend",
        "account_id": str(friend.id),
        "status_id": str(status.id),
        "hashtag": "fuzz",
        "media_id": str(media.id),
        "notification_id": str(notification.id),
        "ride_id": str(ride.id),
    })
    yield owner
    REAL_PATH_PARAMETERS.clear()


def _authorization(user) -> dict:
    from core.services import token_for

    # Looked up per call: rotating or revoking the token is one of the fuzzed operations.
    return {"Authorization": f"Token {token_for(user).key}"}


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_operation_answers_as_documented(case, world):
    case.call_and_validate(headers=_authorization(world), checks=CHECKS)


@light_schema.parametrize()
@settings(max_examples=EXAMPLES_PER_LIGHT_OPERATION, derandomize=True, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_feed_and_rides_operation_answers_as_documented(case, world):
    case.call_and_validate(headers=_authorization(world), checks=CHECKS)


def test_every_documented_path_is_fuzzed_or_knowingly_left_out():
    """A new API is fuzzed from the day it is documented, unless it is added to the list of the left-out."""
    paths = schema.raw_schema["paths"]
    fuzzed = FUZZED_PATH_PREFIXES + FUZZED_LIGHTLY_PATH_PREFIXES
    forgotten = [path for path in paths if not path.startswith(fuzzed + NOT_YET_FUZZED_PATH_PREFIXES)]
    assert not forgotten
    assert len([path for path in paths if path.startswith(FUZZED_PATH_PREFIXES)]) >= 25
    assert len([path for path in paths if path.startswith(FUZZED_LIGHTLY_PATH_PREFIXES)]) >= 40


def test_every_feed_and_rides_operation_documents_its_errors_with_the_platform_body():
    documented = {}
    for path, operations in schema.raw_schema["paths"].items():
        if not path.startswith(FUZZED_LIGHTLY_PATH_PREFIXES):
            continue
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                documented[f"{method.upper()} {path}"] = operation["responses"]
    assert len(documented) >= 50
    for name, responses in documented.items():
        errors = {status: answer for status, answer in responses.items() if not status.startswith("2")}
        assert "401" in errors and len(errors) >= 2, name
        for answer in errors.values():
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, name
