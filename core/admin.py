"""The Django admin's user forms under the one username rule (``core.services.username_clean``)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from core.services import USERNAME_RULE, account_edited, username_clean_for

User = get_user_model()


class _UsernameRuleMixin:
    def clean_username(self) -> str:
        return username_clean_for(self.cleaned_data["username"], user_id=self.instance.pk)


class UserAddForm(_UsernameRuleMixin, AdminUserCreationForm):
    pass


class UserEditForm(_UsernameRuleMixin, UserChangeForm):
    pass


class AccountAdmin(UserAdmin):
    form = UserEditForm
    add_form = UserAddForm

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["username"].help_text = USERNAME_RULE
        return form

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:  # apps refresh what they cached of the account
            account_edited(user=obj)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
