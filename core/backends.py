"""Log-in by username under the one username rule: any letter case names the same account.

Every password check (the log-in page, the admin's, ``POST /api/v1/auth/token``) goes through
``django.contrib.auth.authenticate``, so this backend (``AUTHENTICATION_BACKENDS``) is the one
place that maps what was typed to an account (``core.selectors.user_for_login``).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from core.selectors import user_for_login


class UsernameBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        User = get_user_model()
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if username is None or password is None:
            return None
        user = user_for_login(username)
        if user is None:
            # Hash anyway, so the answer takes as long for an unknown name as for a wrong password.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
