"""Account writes shared by the web pages and the API."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from rest_framework.authtoken.models import Token

from core.errors import FieldError

User = get_user_model()


def user_register(*, username: str, password: str, email: str = "") -> tuple[User, Token]:
    """Create a user and their API token.

    Raises FieldError naming ``username`` when it is taken (also under a race:
    the unique constraint decides) and ``password`` when a validator rejects it.
    """
    if _username_taken(username):
        raise _taken()
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise FieldError({"password": list(exc.messages)}, code="weak_password") from None
    try:
        with transaction.atomic():
            # The unique constraint is case-sensitive; "Ann" and "ann" racing
            # each other are serialised here so the case-insensitive check holds.
            _lock_username(username)
            if _username_taken(username):
                raise _taken()
            user = User.objects.create_user(username=username, email=email, password=password)
            token = Token.objects.create(user=user)
    except IntegrityError:
        raise _taken() from None
    return user, token


_USERNAME_LOCK_NAMESPACE = 0x55534552  # an advisory-lock namespace of our own ("USER")


def _lock_username(username: str) -> None:
    """Serialise registrations of one case-folded username until the transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: transactions already
    start with BEGIN IMMEDIATE (see settings), which serialises every writer.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(lower(%s)))", [_USERNAME_LOCK_NAMESPACE, username]
            )


def _username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def _taken() -> FieldError:
    return FieldError({"username": "A user with that username already exists."}, code="username_taken")


def token_for(user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token
