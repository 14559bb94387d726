"""Chat data: conversations with per-conversation gapless ``seq``, per-member receipt pointers."""

import secrets

from django.conf import settings
from django.db import models

from core.media import private_storage
from core.snowflake import next_id

MAX_CONTENT_LENGTH = 4000
MAX_MEMBERS = 500
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200, null=True, blank=True)
    # "<smaller user id>:<larger user id>" for direct conversations: the unique
    # constraint makes concurrent creations of the same pair converge on one row.
    direct_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seq = models.BigIntegerField(default=0)
    # Per-conversation change counter: each edit, delete or reaction change takes the next value
    # (under the conversation row lock), so ``sync`` can replay changes made while a device was away.
    last_change = models.BigIntegerField(default=0)
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-last_activity_at"]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.id}"


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        MEMBER = "member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    delivered_seq = models.BigIntegerField(default=0)
    read_seq = models.BigIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="chat_membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "conversation"], name="chat_membership_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"


class Message(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    seq = models.BigIntegerField()
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages")
    client_id = models.CharField(max_length=64)
    content = models.TextField(max_length=MAX_CONTENT_LENGTH, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)

    class Meta:
        ordering = ["conversation", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="chat_message_seq_unique"),
            models.UniqueConstraint(fields=["conversation", "sender", "client_id"], name="chat_message_client_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["message", "user", "emoji"], name="chat_reaction_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} on {self.message_id}"


class MessageChange(models.Model):
    """The latest change of a message (edit, delete, reaction): one row per changed message."""

    message = models.OneToOneField(Message, primary_key=True, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    change = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "change"], name="chat_message_change_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id} change {self.change}"


def _attachment_path(instance: "Attachment", filename: str) -> str:
    # A random segment keeps attachment URLs unguessable from their ids.
    return f"chat/attachments/{instance.id}-{secrets.token_urlsafe(8)}/{filename}"


def _thumbnail_path(instance: "Attachment", filename: str) -> str:
    return f"chat/thumbnails/{instance.id}-{secrets.token_urlsafe(8)}/{filename}"


class Attachment(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_attachments")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    # Private: read only through the download view, which checks the caller may see it.
    file = models.FileField(upload_to=_attachment_path, max_length=300, storage=private_storage)
    thumbnail = models.FileField(upload_to=_thumbnail_path, max_length=300, null=True, blank=True,
                                 storage=private_storage)
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    # Found from the file's bytes (core.images), never taken from the client.
    content_type = models.CharField(max_length=100)
    # True once a worker decoded it as a raster image: only then is it shown inline.
    image_verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Block(models.Model):
    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_blocks")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["blocker", "blocked"], name="chat_block_unique")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class NotificationOutbox(models.Model):
    """A message waiting to be pushed to a member who had no open socket when it was sent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "message"], name="chat_outbox_unique")]

    def __str__(self) -> str:
        return f"outbox {self.message_id} -> {self.user_id}"


class Notification(models.Model):
    """What the default push backend records (shown as a badge in the web UI)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_notifications")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    preview = models.CharField(max_length=140)
    created_at = models.DateTimeField(auto_now_add=True)
    read = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "message"], name="chat_notification_unique")]
        indexes = [models.Index(fields=["user", "read"], name="chat_notification_unread")]

    def __str__(self) -> str:
        return self.preview


class UserPresence(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="chat_presence")
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id} last seen {self.last_seen}"


