"""One username rule for logging in: any letter case names the account, on every log-in surface,
and the admin's user forms apply the rule that sign-up does."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "s3cure-Passphrase"
User = get_user_model()


@pytest.mark.parametrize("typed", ["Alice", "ALICE", "alice", "Ａｌｉｃｅ"])  # the last one in full-width letters
def test_the_login_page_accepts_the_username_in_any_letter_case(client, make_user, typed):
    make_user("alice", password=PASSWORD)

    response = client.post("/accounts/login/", {"username": typed, "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1] == ("/", 302)
    assert 'data-testid="whoami">alice<' in response.content.decode()


def test_another_case_with_a_wrong_password_is_still_refused(client, make_user):
    make_user("alice", password=PASSWORD)

    response = client.post("/accounts/login/", {"username": "Alice", "password": "wrong-one"})

    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_the_api_gives_the_token_for_the_username_in_another_case(client, make_user):
    user = make_user("alice", password=PASSWORD)

    response = client.post("/api/v1/auth/token", {"username": "ALICE", "password": PASSWORD},
                           content_type="application/json")

    assert response.status_code == 200
    assert response.json()["token"] == user.auth_token.key


def test_an_inactive_account_cannot_log_in_in_any_case(client, make_user):
    make_user("alice", password=PASSWORD, is_active=False)

    response = client.post("/api/v1/auth/token", {"username": "Alice", "password": PASSWORD},
                           content_type="application/json")

    assert response.status_code == 400 and response.json()["code"] == "invalid_credentials"


def test_an_exact_spelling_wins_over_older_names_that_differ_only_in_case(client, make_user):
    make_user("bob", password=PASSWORD)
    make_user("Bob", password="another-Passphrase")  # older data, from before the rule

    exact = client.post("/api/v1/auth/token", {"username": "Bob", "password": "another-Passphrase"},
                        content_type="application/json")
    ambiguous = client.post("/api/v1/auth/token", {"username": "BOB", "password": PASSWORD},
                            content_type="application/json")

    assert exact.status_code == 200
    assert ambiguous.status_code == 400  # neither account is meant by "BOB"


def test_the_admin_login_accepts_another_case(make_user):
    make_user("root", password=PASSWORD, is_staff=True, is_superuser=True)
    client = Client()

    response = client.post("/admin/login/?next=/admin/", {"username": "Root", "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == "/admin/"


@pytest.fixture
def staff(make_user):
    client = Client()
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def _add(staff, username):
    return staff.post("/admin/auth/user/add/", {"username": username, "usable_password": "true",
                                                "password1": PASSWORD, "password2": PASSWORD})


def test_the_admin_adds_a_user_under_the_username_rule(staff):
    response = _add(staff, "Ｎｅｗ_user")  # compatibility form: stored as its NFKC form

    assert response.status_code == 302
    assert User.objects.filter(username="New_user").exists()


@pytest.mark.parametrize("bad", ["ab", "has space", "<script>", "naïve", "x" * 31])
def test_the_admin_refuses_names_the_rule_refuses(staff, bad):
    response = _add(staff, bad)

    assert response.status_code == 200
    assert "English letters, digits and underscores only" in response.content.decode()
    assert not User.objects.filter(username=bad).exists()


def test_the_admin_refuses_a_name_taken_in_another_case_on_add_and_on_change(staff, make_user):
    make_user("alice")
    carol = make_user("carol")

    added = _add(staff, "ALICE")
    changed = staff.post(f"/admin/auth/user/{carol.pk}/change/", {
        "username": "Alice", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })

    assert added.status_code == 200 and "already exists" in added.content.decode()
    assert changed.status_code == 200 and "already exists" in changed.content.decode()
    carol.refresh_from_db()
    assert carol.username == "carol"
    assert not User.objects.filter(username="ALICE").exists()


def test_the_admin_keeps_a_users_own_name_on_change(staff, make_user):
    carol = make_user("carol")

    response = staff.post(f"/admin/auth/user/{carol.pk}/change/", {
        "username": "Carol", "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })

    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.username == "Carol"
