"""The chat's admin: staff changes go through the same services as members' changes.

So an edit or a deletion by staff reaches members' sockets, seqs stay gapless (a deleted
message stays as a tombstone) and the member cap holds. A refusal of a service (a 501st
member, an empty text) is shown as an error message and nothing of that save is kept.
"""

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from chat.models import Attachment, Block, Conversation, Membership, Message, Notification, Reaction
from chat.services.conversations import (
    conversation_delete_by_staff,
    conversation_rename_by_staff,
    member_role_set_by_staff,
    members_add_by_staff,
    members_remove_by_staff,
)
from chat.services.messages import message_delete_by_staff, message_edit_by_staff, reaction_remove_by_staff
from core.errors import ApplicationError


class ServiceRefusalsAsMessages:
    """Turns an ApplicationError raised by a service during a save or a delete into an admin
    error message; the whole request's writes are rolled back (and so never announced)."""

    def _refusing(self, request, view, *args, **kwargs):
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except ApplicationError as exc:
            self.message_user(request, exc.message, level=messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        return self._refusing(request, super().changeform_view, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._refusing(request, super().delete_view, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):  # bulk actions, e.g. "delete selected"
        return self._refusing(request, super().changelist_view, *args, **kwargs)


@admin.register(Conversation)
class ConversationAdmin(ServiceRefusalsAsMessages, admin.ModelAdmin):
    list_display = ["id", "kind", "title", "last_seq", "last_activity_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["title", "id"]
    readonly_fields = ["id", "kind", "direct_key", "created_by", "members", "last_seq", "last_change", "created_at",
                       "last_activity_at"]

    def has_add_permission(self, request) -> bool:
        return False  # members create conversations (a direct pair once, with its key)

    # Members are listed and changed on their own admin page: an inline of a 500-member
    # group would post more fields than a request may carry.
    @admin.display(description="members")
    def members(self, obj: Conversation) -> str:
        url = reverse("admin:chat_membership_changelist") + f"?conversation__id__exact={obj.pk}"
        return format_html('<a href="{}">{} members</a>', url, obj.memberships.count())

    def save_model(self, request, obj, form, change) -> None:
        if "title" in form.changed_data:
            conversation_rename_by_staff(conversation_id=obj.pk, title=obj.title)

    def delete_model(self, request, obj) -> None:
        conversation_delete_by_staff(conversation_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for conversation_id in queryset.values_list("id", flat=True):
            conversation_delete_by_staff(conversation_id=conversation_id)


@admin.register(Membership)
class MembershipAdmin(ServiceRefusalsAsMessages, admin.ModelAdmin):
    list_display = ["conversation", "user", "role", "joined_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "=conversation__id"]
    raw_id_fields = ["conversation", "user"]
    readonly_fields = ["delivered_seq", "read_seq", "joined_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # to move a member, remove them and add the other user
            return [*self.readonly_fields, "conversation", "user"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            members_add_by_staff(conversation_id=obj.conversation_id, users=[obj.user], role=obj.role)
            obj.pk = Membership.objects.get(conversation_id=obj.conversation_id, user_id=obj.user_id).pk
        elif "role" in form.changed_data:
            member_role_set_by_staff(conversation_id=obj.conversation_id, user_id=obj.user_id, role=obj.role)

    def delete_model(self, request, obj) -> None:
        members_remove_by_staff(conversation_id=obj.conversation_id, users=[obj.user])

    def delete_queryset(self, request, queryset) -> None:
        by_conversation: dict[int, list] = {}
        for membership in queryset.select_related("user"):
            by_conversation.setdefault(membership.conversation_id, []).append(membership.user)
        for conversation_id, users in by_conversation.items():
            members_remove_by_staff(conversation_id=conversation_id, users=users)


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["name", "size", "content_type", "image_verified"]  # files are private: no public URL
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(ServiceRefusalsAsMessages, admin.ModelAdmin):
    list_display = ["id", "conversation", "seq", "sender", "short_content", "created_at", "deleted"]
    list_filter = ["deleted"]
    search_fields = ["content", "sender__username"]
    raw_id_fields = ["conversation", "sender"]
    # seq and ids are assigned by message_send; editing them here would break ordering.
    readonly_fields = ["id", "conversation", "seq", "sender", "client_id", "created_at", "edited_at"]
    inlines = [AttachmentInline]

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:80]

    def has_add_permission(self, request) -> bool:
        return False  # only message_send assigns a seq

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.deleted:
            return [*self.readonly_fields, "content", "deleted"]  # a tombstone stays one
        return self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if "deleted" in form.changed_data and obj.deleted:
            message_delete_by_staff(message_id=obj.pk)
        elif "content" in form.changed_data:
            message_edit_by_staff(message_id=obj.pk, content=obj.content)

    def delete_model(self, request, obj) -> None:
        message_delete_by_staff(message_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for message_id in queryset.values_list("id", flat=True):
            message_delete_by_staff(message_id=message_id)


@admin.register(Reaction)
class ReactionAdmin(ServiceRefusalsAsMessages, admin.ModelAdmin):
    list_display = ["emoji", "message", "user", "created_at"]
    raw_id_fields = ["message", "user"]

    def has_add_permission(self, request) -> bool:
        return False  # a reaction is a member's own act

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj) -> None:
        reaction_remove_by_staff(reaction_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for reaction_id in queryset.values_list("id", flat=True):
            reaction_remove_by_staff(reaction_id=reaction_id)


admin.site.register(Block, raw_id_fields=["blocker", "blocked"])
admin.site.register(Notification, list_display=["user", "preview", "read", "created_at"], raw_id_fields=["user", "conversation", "message"])
