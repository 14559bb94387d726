"""The error envelope: JSON for the API, templated pages for the web, no traces."""

import json

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path
from rest_framework.views import APIView

from config.urls import handler400, handler403, handler404, handler500  # noqa: F401 - the URLconf's handlers
from core.errors import (
    ApplicationError,
    CoreError,
    FieldError,
    application_error_response,
    error_body,
    error_frame,
    error_json,
    error_response,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.test_errors")]


def _boom(request):
    raise RuntimeError("secret internals: password=hunter2")


class _FieldErrorView(APIView):
    permission_classes: list = []

    def post(self, request):
        raise FieldError({"colour": "Pick one of red, green."}, code="bad_colour")


class _ConflictView(APIView):
    permission_classes: list = []

    def get(self, request):
        raise ApplicationError("Already taken.", "taken", status=409, hint="try another")


_SLOW_DOWN = ApplicationError("Slow down.", CoreError.RATE_LIMITED, status=429, retry_after=7)


class _SlowDownView(APIView):
    permission_classes: list = []

    def get(self, request):
        raise _SLOW_DOWN


def _plain_slow_down(request):
    return application_error_response(_SLOW_DOWN)


def _suspicious(request):
    raise SuspiciousOperation("secret internals: Host header was evil.internal")


def _forbidden(request):
    raise PermissionDenied("secret internals: rule 42 matched")


def _plain_post(request):
    return HttpResponse("posted")


# This module doubles as the URLconf: the project's routes and error handlers (imported
# above) plus a few routes that fail on purpose.
urlpatterns = [
    path("boom/", _boom),
    path("api/v1/test/boom", _boom),
    path("api/v1/test/fields", _FieldErrorView.as_view()),
    path("api/v1/test/conflict", _ConflictView.as_view()),
    path("api/v1/test/slow-down", _SlowDownView.as_view()),
    path("api/v1/test/plain-slow-down", _plain_slow_down),
    path("api/v1/test/suspicious", _suspicious),
    path("api/v1/test/forbidden", _forbidden),
    path("api/v1/test/plain-post", _plain_post),
    path("forbidden/", _forbidden),
    path("", include("config.urls")),
]


def test_unknown_api_path_is_a_json_404(client):
    response = client.get("/api/v1/no/such/thing/")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found.", "code": "not_found"}


def test_wrong_method_is_a_json_405(api_client):
    response = api_client.get("/api/v1/auth/register")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response.json()["error"]


def test_missing_credentials_is_a_json_401(api_client):
    response = api_client.get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_validation_errors_name_each_field(api_client):
    response = api_client.post("/api/v1/auth/register", {"username": "bad name!", "password": ""}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"username", "password"}
    assert all(isinstance(messages, list) and messages for messages in body["fields"].values())
    assert body["error"].startswith(("username: ", "password: "))


def test_field_error_from_a_service_renders_with_its_code(api_client):
    response = api_client.post("/api/v1/test/fields", {}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "error": "colour: Pick one of red, green.",
        "code": "bad_colour",
        "fields": {"colour": ["Pick one of red, green."]},
    }


def test_application_error_keeps_its_status_and_extra_keys(api_client):
    response = api_client.get("/api/v1/test/conflict")

    assert response.status_code == 409
    assert response.json() == {"error": "Already taken.", "code": "taken", "hint": "try another"}


def test_unknown_page_is_the_templated_404(client):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "We couldn't find that page" in content or "Not found." in content
    assert 'href="/links/"' in content  # the site layout, not a bare error


def test_a_crashing_page_shows_the_templated_500_without_a_trace(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False

    response = client.get("/boom/")

    assert response.status_code == 500
    content = response.content.decode()
    assert "Something went wrong on our side" in content
    assert "Traceback" not in content
    assert "hunter2" not in content
    assert "RuntimeError" not in content


def test_a_crashing_api_call_is_a_json_500_without_a_trace(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False

    response = client.get("/api/v1/test/boom")

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error.", "code": "server_error"}


def test_the_one_builder_makes_error_code_and_extra_keys():
    assert error_body("Nope.", CoreError.NOT_FOUND, hint="x") == {"error": "Nope.", "code": "not_found", "hint": "x"}
    assert type(error_body("Nope.", CoreError.NOT_FOUND)["code"]) is str


def test_hot_handlers_get_the_same_body_as_bytes():
    body = error_json("Request body too large.", CoreError.TOO_LARGE, limit=1024)

    assert isinstance(body, bytes)
    assert json.loads(body) == {"error": "Request body too large.", "code": "too_large", "limit": 1024}


def test_websocket_error_frames_carry_the_body_a_type_and_the_ref():
    assert error_frame("Bad frame.", CoreError.INVALID, "r1") == {
        "type": "error", "error": "Bad frame.", "code": "invalid", "ref": "r1",
    }
    assert _SLOW_DOWN.as_frame("r2") == {
        "type": "error", "error": "Slow down.", "code": "rate_limited", "retry_after": 7, "ref": "r2",
    }


def test_a_plain_view_renders_an_application_error_like_drf_does(client):
    drf = client.get("/api/v1/test/slow-down")
    plain = client.get("/api/v1/test/plain-slow-down")

    assert drf.status_code == plain.status_code == 429
    assert drf.json() == plain.json() == {"error": "Slow down.", "code": "rate_limited", "retry_after": 7}
    assert drf["Retry-After"] == plain["Retry-After"] == "7"


def test_error_response_sets_status_and_retry_after():
    response = error_response("Busy.", CoreError.SERVICE_UNAVAILABLE, 503, retry_after=3)

    assert response.status_code == 503
    assert json.loads(response.content) == {"error": "Busy.", "code": "service_unavailable", "retry_after": 3}
    assert response["Retry-After"] == "3"


def test_a_suspicious_api_request_is_a_json_400_without_detail(client, settings):
    settings.DEBUG = False

    response = client.get("/api/v1/test/suspicious")

    assert response.status_code == 400
    assert response.json() == {"error": "Bad request.", "code": "bad_request"}


def test_a_permission_denied_api_request_is_a_json_403_without_detail(client):
    response = client.get("/api/v1/test/forbidden")

    assert response.status_code == 403
    assert response.json() == {"error": "You do not have permission to do this.", "code": "permission_denied"}
    assert "rule 42" not in response.content.decode()


def test_a_permission_denied_page_is_the_templated_403(client):
    response = client.get("/forbidden/")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    content = response.content.decode()
    assert "permission" in content and 'href="/links/"' in content
    assert "rule 42" not in content


def test_a_csrf_failure_under_the_api_is_a_json_403():
    response = Client(enforce_csrf_checks=True).post("/api/v1/test/plain-post", {"a": "b"})

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"


def test_core_error_codes_are_the_documented_strings():
    assert {c.value for c in CoreError} >= {
        "authentication_failed", "not_found", "invalid", "parse_error", "rate_limited",
        "too_large", "server_error", "service_unavailable",
    }
