import pytest

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"


def test_register_returns_id_username_and_a_working_token(api_client):
    response = api_client.post(REGISTER, {"username": "bob", "password": "s3cure-Passphrase"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "token"}
    assert body["username"] == "bob"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api_client.get("/api/v1/auth/me").json() == {"id": body["id"], "username": "bob"}


def test_register_rejects_a_taken_username_naming_the_field(api_client, make_user):
    make_user("carol")

    response = api_client.post(REGISTER, {"username": "Carol", "password": "s3cure-Passphrase"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "username_taken"
    assert "username" in body["fields"]


@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_register_rejects_a_weak_password_with_djangos_validators(api_client, password):
    response = api_client.post(REGISTER, {"username": "dave", "password": password}, format="json")

    assert response.status_code == 400
    assert "password" in response.json()["fields"]


def test_register_requires_username_and_password(api_client):
    response = api_client.post(REGISTER, {}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["fields"]) == {"username", "password"}


def test_register_rejects_malformed_json_with_a_json_error(api_client):
    response = api_client.post(REGISTER, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_token_for_valid_credentials(api_client, make_user):
    make_user("erin", password="s3cure-Passphrase")

    response = api_client.post(TOKEN, {"username": "erin", "password": "s3cure-Passphrase"}, format="json")

    assert response.status_code == 200
    assert len(response.json()["token"]) == 40


def test_token_is_the_same_one_register_returned(api_client):
    registered = api_client.post(REGISTER, {"username": "fay", "password": "s3cure-Passphrase"}, format="json").json()

    response = api_client.post(TOKEN, {"username": "fay", "password": "s3cure-Passphrase"}, format="json")

    assert response.json()["token"] == registered["token"]


def test_token_rejects_wrong_credentials(api_client, make_user):
    make_user("gus", password="s3cure-Passphrase")

    response = api_client.post(TOKEN, {"username": "gus", "password": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "Wrong username or password.", "code": "invalid_credentials"}


def test_token_auth_header_authenticates_api_requests(api_client, make_user):
    make_user("hal", password="s3cure-Passphrase")
    token = api_client.post(TOKEN, {"username": "hal", "password": "s3cure-Passphrase"}, format="json").json()["token"]

    assert api_client.get("/api/v1/auth/me").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api_client.get("/api/v1/auth/me").json()["code"] == "authentication_failed"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/v1/auth/me").json()["username"] == "hal"
