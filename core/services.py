"""Account writes shared by the web pages and the API."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from core.errors import FieldError

User = get_user_model()


def user_register(*, username: str, password: str, email: str = "") -> tuple[User, Token]:
    """Create a user and their API token.

    Raises FieldError naming ``username`` when it is taken (also under a race:
    the unique constraint decides) and ``password`` when a validator rejects it.
    """
    if User.objects.filter(username__iexact=username).exists():
        raise FieldError({"username": "A user with that username already exists."}, code="username_taken")
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise FieldError({"password": list(exc.messages)}, code="weak_password") from None
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            token = Token.objects.create(user=user)
    except IntegrityError:
        raise FieldError({"username": "A user with that username already exists."}, code="username_taken") from None
    return user, token


def token_for(user: User) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token
