"""Account writes shared by the web pages and the API."""

import functools
import re
import unicodedata
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from rest_framework.authtoken.models import Token

from core.errors import CoreError, FieldError
from core.tokens import token_invalidate

User = get_user_model()

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 30
USERNAME_RULE = (
    f"Use {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters: "
    "English letters, digits and underscores only."
)
_USERNAME = re.compile(rf"[A-Za-z0-9_]{{{USERNAME_MIN_LENGTH},{USERNAME_MAX_LENGTH}}}")


def username_clean(raw: str) -> str:
    """The username to store for ``raw``: its NFKC form, if that follows the rule.

    Only ASCII letters, digits and ``_`` pass, so look-alike letters, invisible
    characters, spaces, slashes and markup never become part of a name.
    Raises django's ValidationError (forms and serializers show it on the field).
    """
    username = unicodedata.normalize("NFKC", raw)
    if not _USERNAME.fullmatch(username):
        raise ValidationError(USERNAME_RULE, code=CoreError.INVALID)
    return username



def user_register(*, username: str, password: str, email: str = "") -> tuple[User, Token]:
    """Create a user and their API token; the one sign-up path of the web form and the API.

    The stored username is ``username_clean(username)``. Raises FieldError naming
    ``username`` when it breaks the rule or is taken in any letter case (also under
    a race: see ``_lock_username``), and ``password`` when a validator rejects it.
    """
    try:
        username = username_clean(username)
    except ValidationError as exc:
        raise FieldError({"username": list(exc.messages)}) from None
    if _username_taken(username):
        raise _taken()
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise FieldError({"password": list(exc.messages)}, code=CoreError.WEAK_PASSWORD) from None
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


def _username_taken(username: str, *, except_user_id: int | None = None) -> bool:
    return User.objects.filter(username__iexact=username).exclude(pk=except_user_id).exists()


def username_clean_for(username: str, *, user_id: int | None = None) -> str:
    """``username_clean`` plus the case-insensitive uniqueness check, for forms that save a user
    themselves (the admin's add and change forms); ``user_id`` is the account being edited.
    Raises django's ValidationError."""
    username = username_clean(username)
    if _username_taken(username, except_user_id=user_id):
        raise ValidationError("A user with that username already exists.", code=CoreError.USERNAME_TAKEN)
    return username


def _taken() -> FieldError:
    return FieldError({"username": "A user with that username already exists."}, code=CoreError.USERNAME_TAKEN)


def token_for(user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


def token_rotate(*, user: User) -> Token:
    """Give ``user`` a new API token; the old key stops working at once, everywhere.

    The old key is dropped from the token cache after commit (core.tokens), so the
    API, WebSockets and hot handlers all refuse it from then on. Concurrent
    rotations of one user are serialised on the user's row: each succeeds and the
    last one's key is the one that works.
    """
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
        _tokens_delete(Token.objects.filter(user=user))
        return Token.objects.create(user=user)


def token_revoke(*, user: User, key: str | None = None) -> None:
    """Delete ``user``'s API token (only the one with ``key`` when given); it stops working at once.

    A key belonging to someone else is left alone: a caller can only revoke its own.
    """
    with transaction.atomic():
        tokens = Token.objects.filter(user=user)
        if key is not None:
            tokens = tokens.filter(key=key)
        _tokens_delete(tokens)


def _tokens_delete(tokens) -> None:
    # Each key leaves the token cache after commit. robust: the deletion is committed either
    # way, and a Redis hiccup must not turn it into a 500 (while Redis is unreachable,
    # core.tokens asks the database directly).
    for key in list(tokens.values_list("key", flat=True)):
        transaction.on_commit(functools.partial(token_invalidate, key), robust=True)
    tokens.delete()


# --- accounts edited by staff -----------------------------------------------------------
AccountListener = Callable[[int], None]
"""Told, after the commit, the id of an account staff edited: an app refreshes what it cached of it."""

_account_listeners: list[AccountListener] = []


def register_account_listener(listener: AccountListener) -> None:
    """Add a listener (registering one twice is a no-op); apps register theirs in ``ready``."""
    if listener not in _account_listeners:
        _account_listeners.append(listener)


def account_edited(*, user: User) -> None:
    """Call inside the transaction that saved staff's edit of ``user``: after the commit every app's
    listener hears of the change. (A deactivated user's tokens and sockets are already ended by
    ``core.sessions`` whenever a save deactivates them, from the admin or anywhere else.)"""
    user_id = user.pk

    def announce() -> None:
        for listener in _account_listeners:
            listener(user_id)

    transaction.on_commit(announce, robust=True)
