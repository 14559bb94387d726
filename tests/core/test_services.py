"""Account services under concurrent callers."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from core.errors import FieldError
from core.services import token_for, user_register


def _race(names: list[str]) -> tuple[list, list]:
    created, refused = [], []
    lock = threading.Lock()
    barrier = threading.Barrier(len(names))

    def register(name):
        barrier.wait()
        try:
            user, _ = user_register(username=name, password="s3cure-Passphrase")
        except FieldError as exc:
            with lock:
                refused.append(exc.code)
        else:
            with lock:
                created.append(user.username)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return created, refused


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_of_one_username_create_exactly_one_user():
    created, refused = _race(["zed"] * 6)

    assert created == ["zed"]
    assert refused == ["username_taken"] * 5
    assert get_user_model().objects.filter(username__iexact="zed").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_differing_only_in_case_create_exactly_one_user():
    created, refused = _race(["Mia", "mia", "MIA", "miA"])

    assert len(created) == 1
    assert refused == ["username_taken"] * 3
    assert get_user_model().objects.filter(username__iexact="mia").count() == 1


@pytest.mark.django_db
def test_register_creates_the_user_and_one_token():
    user, token = user_register(username="ola", password="s3cure-Passphrase", email="ola@example.com")

    assert user.check_password("s3cure-Passphrase")
    assert user.email == "ola@example.com"
    assert token_for(user) == token
