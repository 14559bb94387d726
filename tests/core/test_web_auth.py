"""Sign-up, log-in and log-out pages as a browser without JavaScript sees them."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "s3cure-Passphrase"


def signup(client, username, password1=PASSWORD, password2=None):
    return client.post(
        "/accounts/signup/",
        {"username": username, "password1": password1, "password2": password2 or password1},
        follow=True,
    )


def test_signup_page_shows_the_form(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200
    content = response.content.decode()
    assert 'name="username"' in content and 'name="password1"' in content
    assert "csrfmiddlewaretoken" in content


def test_signing_up_logs_the_new_user_in_and_shows_their_name(client):
    response = signup(client, "nina")

    assert response.redirect_chain == [("/", 302)]
    assert '<span class="whoami" data-testid="whoami">nina</span>' in response.content.decode()
    assert get_user_model().objects.get(username="nina").check_password(PASSWORD)


def test_signup_rejects_a_taken_username(client, make_user):
    make_user("omar")

    response = signup(client, "Omar")

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert "data-testid=\"whoami\"" not in response.content.decode()


def test_signup_rejects_mismatched_passwords(client):
    response = signup(client, "pia", PASSWORD, "something-else-entirely")

    assert response.status_code == 200
    assert "didn’t match" in response.content.decode() or "didn't match" in response.content.decode()
    assert not get_user_model().objects.filter(username="pia").exists()


def test_signup_rejects_a_weak_password_with_the_validators_message(client):
    response = signup(client, "quinn", "password")

    assert response.status_code == 200
    assert "too common" in response.content.decode()
    assert not get_user_model().objects.filter(username="quinn").exists()


def test_signup_requires_the_csrf_token():
    strict = Client(enforce_csrf_checks=True)

    response = strict.post("/accounts/signup/", {"username": "rob", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 403
    assert not get_user_model().objects.filter(username="rob").exists()


def test_logged_in_users_are_sent_home_from_signup(client, make_user):
    client.force_login(make_user("sam"))

    response = client.get("/accounts/signup/")

    assert response.status_code == 302
    assert response["Location"] == "/"


def test_login_with_the_right_password_shows_the_username(client, make_user):
    make_user("tess", password=PASSWORD)

    response = client.post("/accounts/login/", {"username": "tess", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1] == ("/", 302)
    assert 'data-testid="whoami">tess<' in response.content.decode()


def test_login_with_a_wrong_password_shows_an_error(client, make_user):
    make_user("uma", password=PASSWORD)

    response = client.post("/accounts/login/", {"username": "uma", "password": "wrong-one"})

    assert response.status_code == 200
    content = response.content.decode()
    assert 'role="alert"' in content
    assert "correct username and password" in content
    assert "_auth_user_id" not in client.session


def test_login_follows_next_to_the_page_asked_for(client, make_user):
    make_user("vic", password=PASSWORD)

    response = client.post("/accounts/login/?next=/accounts/signup/", {
        "username": "vic", "password": PASSWORD, "next": "/api/docs/",
    })

    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


def test_logout_is_a_post_and_ends_the_session(client, make_user):
    client.force_login(make_user("wes"))

    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/", follow=True)

    assert response.redirect_chain[-1] == ("/", 302)
    assert "data-testid=\"whoami\"" not in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_signup_returns_to_next_on_this_site(client):
    response = client.post(
        "/accounts/signup/?next=/api/docs/",
        {"username": "xia", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/path", "javascript:alert(1)"])
def test_signup_never_redirects_off_site(client, target):
    response = client.post(
        f"/accounts/signup/?next={target}",
        {"username": "yan", "password1": PASSWORD, "password2": PASSWORD},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


def _login(client, username, password, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def test_guessing_a_password_is_stopped_even_when_the_right_one_comes(client, make_user):
    make_user("abe", password=PASSWORD)
    wrong = [_login(client, "abe", f"guess-{i}").status_code for i in range(10)]

    response = _login(client, "abe", PASSWORD)

    assert wrong == [200] * 10
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    content = response.content.decode()
    assert "Too many attempts" in content and 'role="alert"' in content
    assert "minute" in content
    assert "_auth_user_id" not in client.session


def test_one_username_is_limited_across_addresses_and_letter_cases(client, make_user):
    make_user("bea", password=PASSWORD)
    for i, name in enumerate(["bea", "Bea", "BEA", "bea", "bEa", "bea", "bea", "BeA", "bea", "bea"]):
        assert _login(client, name, "wrong", REMOTE_ADDR=f"10.2.0.{i}").status_code == 200

    assert _login(client, "bea", PASSWORD, REMOTE_ADDR="10.2.1.1").status_code == 429


def test_one_address_is_limited_across_usernames(client, make_user, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_IP", ratelimit.RateLimit(scope="auth", limit=3, period=3600))
    make_user("cy", password=PASSWORD)
    codes = [_login(client, f"name{i}", "wrong").status_code for i in range(3)]

    assert codes == [200] * 3
    assert _login(client, "cy", PASSWORD).status_code == 429
    assert _login(client, "cy", PASSWORD, REMOTE_ADDR="10.3.0.1").status_code == 302  # another address


def test_showing_the_login_page_is_not_limited(client, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_IP", ratelimit.RateLimit(scope="auth", limit=1, period=3600))

    assert [client.get("/accounts/login/").status_code for _ in range(3)] == [200] * 3


def test_the_admin_login_shares_the_limits(client, make_user):
    make_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    for i in range(10):
        client.post("/admin/login/", {"username": "root", "password": f"guess-{i}"})

    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_signup_form_is_limited_per_address(client, monkeypatch):
    from core import ratelimit

    monkeypatch.setattr(ratelimit, "CREDENTIALS_PER_IP", ratelimit.RateLimit(scope="auth", limit=2, period=3600))
    signup(client, "dee1", "x")
    signup(client, "dee2", "x")

    response = client.post("/accounts/signup/", {"username": "dee3", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 429
    assert not get_user_model().objects.filter(username="dee3").exists()
