"""Links, their clicks and the hourly rollups that make stats cheap."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class LinkState(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"
    EXHAUSTED = "exhausted"


class RedirectType(models.IntegerChoices):
    PERMANENT = 301
    FOUND = 302


class Link(models.Model):
    id = models.BigIntegerField(primary_key=True)
    short_code = models.CharField(max_length=32, unique=True)
    # The counter value a generated short code was made from (core.codes); null for aliases and for
    # the older codes that were the base62 of the id. Its maximum re-seeds a counter Redis lost.
    code_seq = models.BigIntegerField(null=True, blank=True, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="links"
    )
    long_url = models.CharField(max_length=2048)
    redirect_type = models.PositiveSmallIntegerField(choices=RedirectType.choices, default=RedirectType.FOUND)
    expires_at = models.DateTimeField(null=True, blank=True)
    password_hash = models.CharField(max_length=256, blank=True, default="")
    max_clicks = models.PositiveIntegerField(null=True, blank=True)
    # Redirects served against max_clicks, incremented by a conditional UPDATE so
    # concurrent requests can never serve more than the limit.
    served_count = models.PositiveIntegerField(default=0)
    # "|tag1|tag2|" so one LIKE finds a tag on SQLite and PostgreSQL alike.
    tags = models.CharField(max_length=400, blank=True, default="")
    click_count = models.BigIntegerField(default=0)
    state = models.CharField(max_length=16, choices=LinkState.choices, default=LinkState.ACTIVE)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="shortener_link_owner_idx"),
            models.Index(fields=["state", "expires_at"], name="shortener_link_expiry_idx"),
        ]

    def __str__(self) -> str:
        return self.short_code

    @property
    def tag_list(self) -> list[str]:
        return [tag for tag in self.tags.split("|") if tag]

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class BlockedHost(models.Model):
    """A host (and its subdomains) that may not be shortened."""

    host = models.CharField(max_length=253, unique=True)
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host


class Click(models.Model):
    """One redirect, enriched by the click consumer. Partitioned by month on PostgreSQL."""

    id = models.BigIntegerField(primary_key=True)
    time = models.DateTimeField()
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="clicks", db_constraint=False)
    referrer = models.CharField(max_length=512, blank=True, default="")
    referrer_host = models.CharField(max_length=253, blank=True, default="")
    ip = models.CharField(max_length=64, blank=True, default="")  # anonymised (IPv4 /24, IPv6 /48)
    country = models.CharField(max_length=2, blank=True, default="")
    device = models.CharField(max_length=16, blank=True, default="")
    browser = models.CharField(max_length=64, blank=True, default="")
    os = models.CharField(max_length=64, blank=True, default="")
    is_bot = models.BooleanField(default=False)
    visitor_hash = models.CharField(max_length=32, blank=True, default="")
    # The Redis Stream entry id: a retried batch can never insert the same click twice.
    stream_id = models.CharField(max_length=32)
    # The visit's Snowflake, given before its first attempt to record the click (``time`` is its
    # timestamp): a visit retried through another path is still one row. Null for older clicks.
    visit_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-time"]
        # Both include ``time``: on PostgreSQL the table is partitioned by it (see migration 0002).
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "time"], name="shortener_click_stream_uniq"),
            models.UniqueConstraint(fields=["visit_id", "time"], name="shortener_click_visit_uniq"),
        ]
        indexes = [models.Index(fields=["link", "time"], name="shortener_click_link_time")]

    def __str__(self) -> str:
        return f"{self.link_id}@{self.time:%Y-%m-%d %H:%M:%S}"


class LinkHourlyStats(models.Model):
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    clicks = models.BigIntegerField(default=0)  # humans
    bots = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "hour"], name="shortener_hourly_uniq")]

    def __str__(self) -> str:
        return f"{self.link_id}@{self.hour:%Y-%m-%d %H}h"


class Dimension(models.TextChoices):
    REFERRER = "referrer"
    COUNTRY = "country"
    DEVICE = "device"
    BROWSER = "browser"
    OS = "os"


class LinkHourlyDimension(models.Model):
    """Human clicks per hour per value of one dimension (top referrers, countries ...)."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    value = models.CharField(max_length=253)
    clicks = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["link", "hour", "dimension", "value"], name="shortener_hourly_dim_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.link_id}@{self.hour:%Y-%m-%d %H}h {self.dimension}={self.value}"


class ClickCountFlush(models.Model):
    """A counter batch already applied to click_count, so a retried flush never adds twice."""

    batch_id = models.BigIntegerField(primary_key=True)
    flushed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.batch_id)
