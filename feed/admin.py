"""Django admin of the feed: statuses, follows, blocks, mutes and media.

Every change goes through the services, so a post deleted by staff leaves every timeline it
reached and counters stay right; rows are never removed behind the fan-out's back.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model

from core.errors import ApplicationError
from feed.models import Block, Follow, MediaAttachment, Mute, Status
from feed.services import relationships
from feed.services.media import media_update
from feed.services.statuses import status_delete

User = get_user_model()


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return (("no", "Live"), ("yes", "Deleted"))

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


def _delete_statuses(statuses) -> int:
    """Delete through the service (timelines cleaned); returns how many were live."""
    deleted = 0
    for status in statuses:
        if status.deleted_at is not None:
            continue
        try:
            status_delete(account=status.account, status_id=status.id)
            deleted += 1
        except ApplicationError:
            pass  # deleted meanwhile (by its author, or with the status it reblogged)
    return deleted


@admin.register(Status)
class StatusAdmin(admin.ModelAdmin):
    list_display = ("id", "account", "short_text", "in_reply_to_id", "reblog_of_id", "visibility", "created_at",
                    "deleted_at")
    list_filter = (DeletedFilter, "visibility", "created_at")
    search_fields = ("=id", "text", "account__username")
    list_select_related = ("account",)
    raw_id_fields = ("account", "in_reply_to", "in_reply_to_account", "reblog_of")
    readonly_fields = ("id", "account", "text", "in_reply_to", "in_reply_to_account", "reblog_of", "visibility",
                       "created_at", "deleted_at", "favourites_count", "reblogs_count", "replies_count")
    exclude = ("idempotency_key",)
    actions = ("delete_through_service",)
    show_full_result_count = False

    @admin.display(description="text")
    def short_text(self, obj: Status) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def has_add_permission(self, request):
        return False  # posts are published by their authors, through the API and the web page

    def has_change_permission(self, request, obj=None):
        return False  # a post is never rewritten behind its author's back; staff can only delete it

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk row delete would skip the timelines
        return actions

    def delete_model(self, request, obj):
        _delete_statuses([obj])

    def delete_queryset(self, request, queryset):
        _delete_statuses(queryset.select_related("account"))

    @admin.action(description="Delete selected statuses (from every timeline)", permissions=["delete"])
    def delete_through_service(self, request, queryset):
        count = _delete_statuses(queryset.select_related("account"))
        messages.success(request, f"Deleted {count} status(es).")


class _PairForm(forms.ModelForm):
    """Both accounts of a follow, block or mute: two different active accounts."""

    def clean(self):
        cleaned = super().clean()
        first, second = (cleaned.get(name) for name in self._meta.fields)
        if first and second:
            if first == second:
                raise forms.ValidationError("An account cannot do this to itself.")
            if not (first.is_active and second.is_active):
                raise forms.ValidationError("Both accounts must be active.")
        return cleaned


class FollowForm(_PairForm):
    class Meta:
        model = Follow
        fields = ("follower", "followee")

    def clean(self):
        from feed.selectors import blocked_between

        cleaned = super().clean()
        follower, followee = cleaned.get("follower"), cleaned.get("followee")
        if follower and followee and blocked_between(follower.id, followee.id):
            raise forms.ValidationError("One of these accounts blocks the other.")
        return cleaned


class _RelationshipAdmin(admin.ModelAdmin):
    """Add and delete call the relationship services; a saved row cannot be edited."""

    add_service = None
    remove_service = None
    actor = "account"
    target = "target"
    list_select_related = True
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return (self.actor, self.target, "created_at") if obj else ()

    def has_change_permission(self, request, obj=None):
        return obj is None  # the changelist, never a changed row

    def save_model(self, request, obj, form, change):
        actor, target = form.cleaned_data[self.actor], form.cleaned_data[self.target]
        type(self).add_service(account=actor, target_id=target.id)  # the form checked what it refuses
        saved = self.model.objects.get(**{self.actor: actor, self.target: target})
        obj.pk, obj.created_at = saved.pk, saved.created_at

    def _remove(self, rows) -> None:
        for row in rows:
            try:
                type(self).remove_service(account=getattr(row, self.actor), target_id=getattr(row, f"{self.target}_id"))
            except ApplicationError:
                pass  # an account deactivated since: its rows go with it

    def delete_model(self, request, obj):
        self._remove([obj])

    def delete_queryset(self, request, queryset):
        self._remove(list(queryset.select_related(self.actor)))


@admin.register(Follow)
class FollowAdmin(_RelationshipAdmin):
    form = FollowForm
    add_service = staticmethod(relationships.account_follow)
    remove_service = staticmethod(relationships.account_unfollow)
    actor, target = "follower", "followee"
    list_display = ("id", "follower", "followee", "created_at")
    search_fields = ("follower__username", "followee__username")
    raw_id_fields = ("follower", "followee")


class _AccountFilterAdmin(_RelationshipAdmin):
    form = _PairForm
    list_display = ("id", "account", "target", "created_at")
    search_fields = ("account__username", "target__username")
    raw_id_fields = ("account", "target")


@admin.register(Block)
class BlockAdmin(_AccountFilterAdmin):
    add_service = staticmethod(relationships.account_block)
    remove_service = staticmethod(relationships.account_unblock)


@admin.register(Mute)
class MuteAdmin(_AccountFilterAdmin):
    add_service = staticmethod(relationships.account_mute)
    remove_service = staticmethod(relationships.account_unmute)


@admin.register(MediaAttachment)
class MediaAttachmentAdmin(admin.ModelAdmin):
    """Uploads are read-only here but for their alt text (through ``media_update``); an image is
    taken down by deleting its status, which removes it from every timeline."""

    list_display = ("id", "account", "status_id", "content_type", "is_ready", "failed", "created_at")
    list_filter = ("failed", "content_type", "created_at")
    search_fields = ("=id", "account__username", "description")
    list_select_related = ("account",)
    fields = ("id", "account", "status", "preview", "content_type", "description", "meta", "failed", "created_at")
    readonly_fields = ("id", "account", "status", "preview", "content_type", "meta", "failed", "created_at")
    show_full_result_count = False

    @admin.display(boolean=True, description="ready")
    def is_ready(self, obj: MediaAttachment) -> bool:
        return obj.ready

    @admin.display(description="thumbnail")
    def preview(self, obj: MediaAttachment) -> str:
        from django.core.files.storage import default_storage
        from django.utils.html import format_html

        if not obj.thumb:
            return "processing" if not obj.failed else "failed"
        return format_html('<img src="{}" alt="{}" width="150" height="150">', default_storage.url(obj.thumb),
                           obj.description)

    def has_add_permission(self, request):
        return False  # uploaded by their owners through the API

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if "description" in form.changed_data:
            media_update(account=obj.account, media_id=obj.id, description=form.cleaned_data["description"])
