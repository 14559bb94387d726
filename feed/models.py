"""News feed data: statuses (posts and reblogs), the follow graph, blocks, mutes, favourites.

Ids are Snowflakes, so ordering by id is ordering by time. The ``*_count`` columns are
the counters as last flushed from Redis (see ``feed.services.counters``); reads show the
live Redis value. Statuses are deleted softly (``deleted_at``) so every timeline the post
reached can still be cleaned up after the delete; readers never see them.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from oauth2_provider.settings import oauth2_settings

from core.media import private_storage
from core.snowflake import next_id

MAX_STATUS_CHARS = 280


class FeedAccount(models.Model):
    """Feed state of a user: activity (who gets pushes), celebrity flag and flushed counters."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="feed_account"
    )
    last_read_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_status_at = models.DateTimeField(null=True, blank=True)
    # Authors past FEED_CELEBRITY_THRESHOLD are pulled at read time instead of pushed.
    is_celebrity = models.BooleanField(default=False)
    followers_count = models.BigIntegerField(default=0)
    following_count = models.BigIntegerField(default=0)
    statuses_count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"feed account {self.user_id}"


class Status(models.Model):
    class Visibility(models.TextChoices):
        PUBLIC = "public"
        UNLISTED = "unlisted"

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_statuses")
    text = models.TextField(max_length=MAX_STATUS_CHARS, blank=True)
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    in_reply_to_account = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reblog_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="reblogs")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # sha256 of the client's Idempotency-Key: a retried POST returns the first status.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    # Set at publish: reads load attachments only for statuses that have some.
    has_media = models.BooleanField(default=False)
    favourites_count = models.BigIntegerField(default=0)
    reblogs_count = models.BigIntegerField(default=0)
    replies_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # One live reblog per account and status: concurrent reblogs converge on one row.
            models.UniqueConstraint(
                fields=["account", "reblog_of"], condition=Q(deleted_at__isnull=True, reblog_of__isnull=False),
                name="feed_status_one_reblog",
            ),
            models.UniqueConstraint(
                fields=["account", "idempotency_key"], condition=Q(idempotency_key__isnull=False),
                name="feed_status_idempotency",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-id"], name="feed_status_account"),
            models.Index(fields=["in_reply_to"], name="feed_status_reply"),
        ]

    def __str__(self) -> str:
        return f"status {self.id}"


class Follow(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_following")
    followee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_followers")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="feed_follow_unique"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="feed_follow_not_self"),
        ]
        # Fan-out walks an author's followers by keyset on id.
        indexes = [models.Index(fields=["followee", "id"], name="feed_follow_followee")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class AccountFilter(models.Model):
    """One account hiding another (a block or a mute); one row per pair."""

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_%(class)s_set")
    target = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                               related_name="feed_%(class)s_targets")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        constraints = [models.UniqueConstraint(fields=["account", "target"], name="%(app_label)s_%(class)s_unique")]

    def __str__(self) -> str:
        return f"{self.account_id} {type(self).__name__.lower()}s {self.target_id}"


class Block(AccountFilter):
    pass


class Mute(AccountFilter):
    pass


class Favourite(models.Model):
    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_favourites")
    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="favourites")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "status"], name="feed_favourite_unique")]
        indexes = [models.Index(fields=["status", "id"], name="feed_favourite_status")]

    def __str__(self) -> str:
        return f"{self.account_id} favourites {self.status_id}"


def _media_upload_path(instance, filename: str) -> str:
    return f"feed/originals/{instance.id}"


class MediaAttachment(models.Model):
    """An uploaded image: the original (private, EXIF and all) and the sizes made from it by a
    worker (public, stripped). Unattached until a status names it in ``media_ids``."""

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feed_media")
    status = models.ForeignKey(Status, null=True, blank=True, on_delete=models.SET_NULL, related_name="media")
    original = models.FileField(storage=private_storage, upload_to=_media_upload_path, max_length=255)
    content_type = models.CharField(max_length=32)
    description = models.TextField(max_length=1500, blank=True)
    # Names in the default storage of the sizes made (empty while processing).
    thumb = models.CharField(max_length=255, blank=True)
    medium = models.CharField(max_length=255, blank=True)
    large = models.CharField(max_length=255, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    failed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "id"], name="feed_media_status")]

    def __str__(self) -> str:
        return f"media {self.id}"

    @property
    def ready(self) -> bool:
        return bool(self.large)


class StatusTag(models.Model):
    """A #hashtag of a status (lower-cased), for tag timelines and hashtag search."""

    status = models.ForeignKey(Status, on_delete=models.CASCADE, related_name="tag_rows")
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "status"], name="feed_status_tag_unique")]

    def __str__(self) -> str:
        return f"#{self.name} on {self.status_id}"


class Notification(models.Model):
    class Type(models.TextChoices):
        FOLLOW = "follow"
        FAVOURITE = "favourite"
        REBLOG = "reblog"
        MENTION = "mention"

    id = models.BigIntegerField(primary_key=True, default=next_id, editable=False)
    account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="feed_notifications")
    from_account = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=16, choices=Type.choices)
    status = models.ForeignKey(Status, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A repeated favourite (unfavourite, favourite again) notifies once; races converge.
            models.UniqueConstraint(fields=["account", "from_account", "type", "status"],
                                    name="feed_notification_once"),
            models.UniqueConstraint(fields=["account", "from_account", "type"], condition=Q(status__isnull=True),
                                    name="feed_notification_once_no_status"),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="feed_notification_account")]

    def __str__(self) -> str:
        return f"{self.type} for {self.account_id}"


class OAuthAppInfo(models.Model):
    """What Mastodon keeps about an app beyond OAuth's client: its scopes and website."""

    application = models.OneToOneField(oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE,
                                       primary_key=True, related_name="feed_info")
    scopes = models.CharField(max_length=1000, default="read")
    website = models.URLField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"app {self.application_id}"
