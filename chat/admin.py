from django.contrib import admin

from chat.models import Attachment, Block, Conversation, Membership, Message, Notification, Reaction


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]
    readonly_fields = ["delivered_seq", "read_seq", "joined_at"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "title", "last_seq", "last_activity_at", "created_at"]
    list_filter = ["kind"]
    search_fields = ["title", "id"]
    readonly_fields = ["id", "direct_key", "last_seq", "created_at", "last_activity_at"]
    inlines = [MembershipInline]


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["name", "size", "content_type", "image_verified"]  # files are private: no public URL
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
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


admin.site.register(Reaction, raw_id_fields=["message", "user"])
admin.site.register(Block, raw_id_fields=["blocker", "blocked"])
admin.site.register(Notification, list_display=["user", "preview", "read", "created_at"], raw_id_fields=["user", "conversation", "message"])
