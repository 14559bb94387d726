"""The error envelope: JSON for the API, templated pages for the web, no traces."""

import pytest
from django.urls import include, path
from rest_framework.views import APIView

from core.errors import ApplicationError, FieldError

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


# This module doubles as the URLconf: the project's routes plus a few that fail on purpose.
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"
urlpatterns = [
    path("boom/", _boom),
    path("api/v1/test/boom", _boom),
    path("api/v1/test/fields", _FieldErrorView.as_view()),
    path("api/v1/test/conflict", _ConflictView.as_view()),
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
