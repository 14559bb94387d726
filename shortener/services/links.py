"""Writes on links: create (generated code or alias), edit, soft delete, expiry."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from core import codes
from core.errors import ApplicationError, FieldError
from core.ratelimit import RateLimit, check, rate_limited_error
from core.snowflake import next_id
from shortener import store
from shortener.errors import ShortenerErrorCode, alias_taken, link_deleted
from shortener.models import Link, LinkState, RedirectType
from shortener.services.blocklist import block_list

MAX_URL_LENGTH = 2048
ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]{3,32}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MAX_TAGS = 10
DEFAULT_EXPIRES_IN_DAYS = 365
MAX_EXPIRES_IN_DAYS = 3650
# Anonymous creators are limited per client IP, signed-in ones per user (SHORTENER_CREATE_PER_MINUTE).
ANONYMOUS_CREATE = RateLimit("shortener-anon-shorten", limit=20, period=60)
DEFAULT_CREATE_PER_MINUTE = 100

# Every top-level path the project serves (and a few it may): an alias must never shadow one.
RESERVED_ALIASES = frozenset(
    {
        "api", "admin", "accounts", "static", "media", "ws", "feed", "chat", "rides", "healthz", "metrics",
        "links", "login", "logout", "signup", "register", "docs", "schema", "auth", "settings", "dashboard",
        "about", "help", "robots", "favicon", "sitemap", "well-known", "assets", "public", "app", "www",
        "new", "shorten", "qr", "stats", "import", "users", "user", "profile", "home", "index",
    }
)


def is_reserved(code: str) -> bool:
    return code.lower() in RESERVED_ALIASES


def _hostname(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


# Used unless a deployment sets SHORTENER_BLOCKED_HOSTS; the admin's block list adds to either.
DEFAULT_BLOCKED_HOSTS = ("localhost", "0.0.0.0", "bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd", "ow.ly")  # noqa: S104


def _blocked_hosts() -> set[str]:
    configured = getattr(settings, "SHORTENER_BLOCKED_HOSTS", DEFAULT_BLOCKED_HOSTS)
    return {h.lower().strip(".") for h in configured} | block_list.hosts()


def validate_long_url(long_url: object, *, request_host: str | None = None, field: str = "long_url") -> str:
    """Return the URL if it may be shortened; raise FieldError naming ``field`` otherwise."""
    if not isinstance(long_url, str) or not long_url.strip():
        raise FieldError({field: "Enter a URL."})
    url = long_url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise FieldError({field: f"URL is longer than {MAX_URL_LENGTH} characters."})
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise FieldError({field: "URL may not contain spaces or control characters."})
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise FieldError({field: "Enter a valid URL."})
    if parts.scheme.lower() not in ("http", "https"):
        raise FieldError({field: "Only http and https URLs can be shortened."})
    if not host:
        raise FieldError({field: "URL has no host."})
    if "@" in parts.netloc:
        # "https://bank.example@evil.example/" reads as the bank's address but leads elsewhere.
        raise FieldError({field: "URLs with a user name or password cannot be shortened."})
    own_hosts = {_hostname(settings.PUBLIC_BASE_URL)}
    if request_host:
        own_hosts.add(request_host.lower().rsplit(":", 1)[0] if not request_host.startswith("[") else request_host)
    if host in own_hosts:
        raise FieldError({field: "URLs of this service cannot be shortened (redirect loop)."})
    for blocked in _blocked_hosts():
        if host == blocked or host.endswith("." + blocked):
            raise FieldError({field: f"Links to {blocked} are not allowed."}, code=ShortenerErrorCode.BLOCKED_HOST)
    return url


def validate_alias(alias: object) -> str:
    if isinstance(alias, str) and is_reserved(alias):
        raise FieldError({"custom_alias": "This alias is reserved."}, code=ShortenerErrorCode.ALIAS_RESERVED)
    if not isinstance(alias, str) or not ALIAS_RE.match(alias):
        raise FieldError({"custom_alias": "Use 3-32 letters, digits, '_' or '-'."})
    return alias


def validate_expires_in_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRES_IN_DAYS:
        raise FieldError({"expires_in_days": f"Must be a whole number of days from 1 to {MAX_EXPIRES_IN_DAYS}."})
    return value


def validate_redirect_type(value: object) -> int:
    if value not in (RedirectType.PERMANENT, RedirectType.FOUND) or isinstance(value, bool):
        raise FieldError({"redirect_type": "Must be 301 or 302."})
    return int(value)


def validate_max_clicks(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2_000_000_000:
        raise FieldError({"max_clicks": "Must be a whole number of at least 1."})
    return value


def validate_tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [t for t in re.split(r"[\s,;]+", value) if t]
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise FieldError({"tags": "Must be a list of strings."})
    tags: list[str] = []
    for tag in value:
        tag = tag.strip().lower()
        if not TAG_RE.match(tag):
            raise FieldError({"tags": f"Invalid tag {tag!r}: use 1-32 letters, digits, '.', '_' or '-'."})
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise FieldError({"tags": f"At most {MAX_TAGS} tags."})
    return tags


def validate_password(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 128:
        raise FieldError({"password": "Must be a string of at most 128 characters."})
    return value


def encode_tags(tags: list[str]) -> str:
    return f"|{'|'.join(tags)}|" if tags else ""


def suggest_aliases(alias: str, count: int = 3) -> list[str]:
    """``count`` free aliases close to ``alias`` (free at the time of asking)."""
    base = alias[:27]
    found: list[str] = []
    for _attempt in range(5):
        candidates = [f"{base}-{secrets.choice('23456789')}{secrets.token_hex(2)[:2]}" for _ in range(count * 3)]
        candidates += [f"{base}{n}" for n in range(2, 2 + count) if len(f"{base}{n}") <= 32]
        candidates = [c for c in dict.fromkeys(candidates) if ALIAS_RE.match(c) and not is_reserved(c)]
        taken = set(Link.objects.filter(short_code__in=candidates).values_list("short_code", flat=True))
        for candidate in candidates:
            if candidate not in taken and candidate not in found:
                found.append(candidate)
            if len(found) == count:
                return found
    return found


@dataclass(frozen=True)
class LinkInput:
    long_url: str
    custom_alias: str | None = None
    expires_in_days: int | None = DEFAULT_EXPIRES_IN_DAYS  # None: never expires
    redirect_type: int = RedirectType.FOUND
    password: str | None = None
    max_clicks: int | None = None
    tags: tuple[str, ...] = ()


def link_input_from(data: dict, *, request_host: str | None = None) -> LinkInput:
    """Validate a shorten payload (API body or CSV row); raises FieldError naming the field.

    ``expires_in_days`` absent means one year; an explicit null means the link never expires.
    """
    if not isinstance(data, Mapping):
        raise FieldError({"non_field_errors": "Send a JSON object."})
    long_url = validate_long_url(data.get("long_url"), request_host=request_host)
    alias = data.get("custom_alias")
    alias = validate_alias(alias) if alias not in (None, "") else None
    if "expires_in_days" not in data:
        days = DEFAULT_EXPIRES_IN_DAYS
    elif data["expires_in_days"] is None:
        days = None
    else:
        days = validate_expires_in_days(data["expires_in_days"])
    redirect_type = data.get("redirect_type")
    redirect_type = validate_redirect_type(redirect_type) if redirect_type is not None else RedirectType.FOUND
    return LinkInput(
        long_url=long_url,
        custom_alias=alias,
        expires_in_days=days,
        redirect_type=redirect_type,
        password=validate_password(data.get("password")),
        max_clicks=validate_max_clicks(data.get("max_clicks")),
        tags=tuple(validate_tags(data.get("tags"))),
    )


def _create_limit() -> RateLimit:
    per_minute = int(getattr(settings, "SHORTENER_CREATE_PER_MINUTE", DEFAULT_CREATE_PER_MINUTE))
    return RateLimit("shortener-user-create", limit=per_minute, period=60)


def _creation_refused(*, owner, client_ip: str | None) -> ApplicationError | None:
    """Take one creation from the creator's bucket; the 429 error (with retry_after) when it is empty.

    A signed-in creator is limited per user (wherever the request comes from), an anonymous one per
    client IP. A caller that is neither (a management command, tests) is not limited.
    """
    if owner is not None and owner.is_authenticated:
        rule, identity = _create_limit(), str(owner.pk)
    elif client_ip:
        rule, identity = ANONYMOUS_CREATE, client_ip
    else:
        return None
    decision = check(rule, identity)
    return None if decision.allowed else rate_limited_error(decision)


def link_create(*, owner, data: LinkInput, client_ip: str | None = None, throttle: bool = True) -> Link:
    """Create a link under a generated code or the requested alias.

    Raises a 429 ApplicationError (``retry_after``) when the creator is over its creation rate
    (per user when signed in, else per ``client_ip``); ``throttle=False`` is for callers that
    charged the whole request already (a CSV import). Generated codes are unique by construction
    (core.codes); aliases share the same unique column, so of two concurrent claims exactly one
    insert wins and the other raises a 409 ApplicationError carrying three free suggestions.
    """
    if throttle and (refused := _creation_refused(owner=owner, client_ip=client_ip)):
        raise refused
    try:
        link = _link_insert(owner=owner, data=data)
    except IntegrityError:
        if data.custom_alias and Link.objects.filter(short_code=data.custom_alias).exists():
            raise alias_taken(suggest_aliases(data.custom_alias))
        raise
    if data.custom_alias:
        # A negative-cache entry for this alias (someone probed it before) must not outlive the link.
        # Generated codes are fresh permutations of unused counter values: nobody can have probed them.
        _invalidate_now_and_after_commit(link.short_code)
    return link


def link_create_batch(*, items: list[tuple[object, LinkInput]]) -> list[Link | ApplicationError]:
    """Create several links with one commit; the slot of a taken alias holds its 409 error instead,
    the slot of a creator over its rate (see ``link_create``) a 429 error with ``retry_after``.

    The same rules as ``link_create``. Generated codes cannot collide, so they go in one multi-row
    INSERT; each alias gets its own savepoint so a taken one fails alone. Group commit is what lets
    concurrent API calls share a write.
    """
    results: dict[int, Link | ApplicationError] = {}
    for i, (owner, _data) in enumerate(items):
        if refused := _creation_refused(owner=owner, client_ip=None):
            results[i] = refused
    with transaction.atomic():
        generated = {i: _link_build(owner=owner, data=data) for i, (owner, data) in enumerate(items)
                     if not data.custom_alias and i not in results}
        try:
            with transaction.atomic():
                Link.objects.bulk_create(list(generated.values()))
            results.update(generated)
        except IntegrityError:  # a generated code equal to an existing alias: one at a time instead
            for i in generated:
                results[i] = _link_insert(owner=items[i][0], data=items[i][1])
        for i, (owner, data) in enumerate(items):
            if not data.custom_alias or i in results:
                continue
            try:
                results[i] = _link_insert(owner=owner, data=data)
            except IntegrityError:
                results[i] = alias_taken(suggest_aliases(data.custom_alias))
    aliases = [link.short_code for i, link in results.items() if isinstance(link, Link) and items[i][1].custom_alias]
    if aliases:
        store.cache_invalidate(*aliases)
        # Robust: the links are committed by then; a Redis gone meanwhile must not fail the answer.
        transaction.on_commit(lambda: store.cache_invalidate(*aliases), robust=True)
    return [results[i] for i in range(len(items))]


def _sequence_floor() -> int:
    """The lowest short-code counter value no stored link uses."""
    highest = Link.objects.aggregate(highest=Max("code_seq"))["highest"]
    return 0 if highest is None else highest + 1


code_sequence = codes.SequenceAllocator(floor=_sequence_floor)


def _generated_code() -> tuple[int, str]:
    while True:
        sequence = code_sequence.next()
        code = codes.code_for(sequence)
        if not is_reserved(code):
            return sequence, code


def _link_insert(*, owner, data: LinkInput) -> Link:
    """Insert one link; a generated code found taken (an alias of that length, or a counter that
    went back after a Redis restore) lifts the counter and takes the next code."""
    for _attempt in range(3):
        link = _link_build(owner=owner, data=data)
        try:
            with transaction.atomic():
                link.save(force_insert=True)
        except IntegrityError:
            if data.custom_alias:
                raise
            code_sequence.raise_floor()
            continue
        return link
    raise IntegrityError("could not allocate a short code")


def _link_build(*, owner, data: LinkInput) -> Link:
    if data.custom_alias:
        sequence, code = None, data.custom_alias
    else:
        sequence, code = _generated_code()
    now = timezone.now()
    link = Link(
        id=next_id(),
        short_code=code,
        code_seq=sequence,
        owner=owner if owner is not None and owner.is_authenticated else None,
        long_url=data.long_url,
        redirect_type=data.redirect_type,
        created_at=now,
        expires_at=None if data.expires_in_days is None else now + timedelta(days=data.expires_in_days),
        password_hash=make_password(data.password) if data.password else "",
        max_clicks=data.max_clicks,
        tags=encode_tags(list(data.tags)),
    )
    return link


def _invalidate_now_and_after_commit(code: str) -> None:
    # Now, and again after commit: a reader may refill the cache from the pre-commit row in between.
    store.cache_invalidate(code)
    transaction.on_commit(lambda: store.cache_invalidate(code), robust=True)


def _state_after_edit(link: Link, now: datetime) -> str:
    if link.state == LinkState.DELETED:
        return LinkState.DELETED
    if link.expires_at is not None and link.expires_at <= now:
        return LinkState.EXPIRED
    if link.max_clicks is not None and link.served_count >= link.max_clicks:
        return LinkState.EXHAUSTED
    return LinkState.ACTIVE


def link_update(*, link: Link, changes: dict, request_host: str | None = None) -> Link:
    """Apply an owner's edit (long_url, expiry, redirect_type, tags, password, max_clicks).

    Raises FieldError for bad values and 410 for a deleted link; purges the cached entry.
    """
    with transaction.atomic():
        link = Link.objects.select_for_update().get(pk=link.pk)
        if link.state == LinkState.DELETED:
            raise link_deleted()
        now = timezone.now()
        if "long_url" in changes:
            link.long_url = validate_long_url(changes["long_url"], request_host=request_host)
        if "expires_in_days" in changes:
            # Counted from the edit, not from creation; null means never.
            days = changes["expires_in_days"]
            link.expires_at = None if days is None else now + timedelta(days=validate_expires_in_days(days))
        elif "expires_at" in changes:
            link.expires_at = _parse_expires_at(changes["expires_at"], now)
        if "redirect_type" in changes:
            link.redirect_type = validate_redirect_type(changes["redirect_type"])
        if "tags" in changes:
            link.tags = encode_tags(validate_tags(changes["tags"]))
        if "password" in changes:
            password = validate_password(changes["password"])
            link.password_hash = make_password(password) if password else ""
        if "max_clicks" in changes:
            link.max_clicks = validate_max_clicks(changes["max_clicks"])
        link.state = _state_after_edit(link, now)
        link.save()
    _invalidate_now_and_after_commit(link.short_code)
    return link


def _parse_expires_at(value: object, now: datetime) -> datetime | None:
    if value is None:
        return None
    from django.utils.dateparse import parse_datetime

    invalid = FieldError({"expires_at": "Must be an ISO 8601 datetime (UTC offset within ±24 h) or null."})
    try:
        # Impossible dates (February 30th) and offsets past 24 h raise ValueError; a moment at the
        # calendar's edge that falls outside it in UTC raises OverflowError.
        parsed = parse_datetime(value) if isinstance(value, str) and value.isascii() else None
        if parsed is not None:
            parsed = timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise invalid
    if parsed is None:
        raise invalid
    if parsed > now + timedelta(days=MAX_EXPIRES_IN_DAYS):
        raise FieldError({"expires_at": f"Must be within {MAX_EXPIRES_IN_DAYS} days."})
    return parsed


def link_delete(*, link: Link) -> None:
    """Soft delete: the code stays reserved and answers 410 from now on. Idempotent."""
    with transaction.atomic():
        updated = Link.objects.filter(pk=link.pk).exclude(state=LinkState.DELETED).update(
            state=LinkState.DELETED, deleted_at=timezone.now()
        )
    if updated:
        _invalidate_now_and_after_commit(link.short_code)


def links_expire_due(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Mark active links past their expiry as expired and purge their cache entries."""
    now = now or timezone.now()
    total = 0
    while True:
        due = list(
            Link.objects.filter(state=LinkState.ACTIVE, expires_at__lte=now).values_list("pk", "short_code")[
                :batch_size
            ]
        )
        if not due:
            return total
        ids = [pk for pk, _ in due]
        with transaction.atomic():
            Link.objects.filter(pk__in=ids, state=LinkState.ACTIVE).update(state=LinkState.EXPIRED)
        codes = [code for _, code in due]
        store.cache_invalidate(*codes)
        transaction.on_commit(lambda codes=codes: store.cache_invalidate(*codes), robust=True)
        total += len(ids)


def link_claim_limited_click(*, link_id: int) -> bool:
    """Take one redirect from a max_clicks budget; False once it is spent (never over-serves).

    One conditional UPDATE per request: concurrent requests are serialised by the row.
    """
    from django.db.models import Case, F, Value, When

    updated = Link.objects.filter(
        Q(pk=link_id, state=LinkState.ACTIVE) & Q(served_count__lt=F("max_clicks"))
    ).update(
        served_count=F("served_count") + 1,
        state=Case(
            When(served_count=F("max_clicks") - 1, then=Value(LinkState.EXHAUSTED)),
            default=Value(LinkState.ACTIVE),
        ),
    )
    return bool(updated)
