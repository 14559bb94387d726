"""Mastodon's JSON entities (Status, Account, Relationship, Context, Instance) as documented.

Ids are strings; fields the feed does not support carry their documented empty value
(``[]``, ``null``, ``false``, ``""``), never a missing key. Batch renderers load what a
page needs with a fixed number of queries whatever its length.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.templatetags.static import static
from django.utils.html import escape

from feed import selectors
from feed.models import MAX_STATUS_CHARS

User = get_user_model()

MASTODON_API_VERSION = "4.3.0"
MAX_MEDIA_ATTACHMENTS = 4
IMAGE_SIZE_LIMIT = 10 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 16_777_216
CHARACTERS_RESERVED_PER_URL = 23
SUPPORTED_IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]

_TOKENS = re.compile(
    r"(?P<url>https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])"
    r"|(?<![\w/@])@(?P<mention>\w(?:[\w.+-]*\w)?)"
    r"|(?<![\w&/#])#(?P<tag>\w+)"
)


def _base() -> str:
    return settings.PUBLIC_BASE_URL


def iso(value: datetime | str | None) -> str | None:
    """Mastodon's timestamp: UTC, milliseconds, ``Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _absolute(path: str) -> str:
    return path if path.startswith("http") else _base() + path


def mentioned_usernames(text: str) -> set[str]:
    return {m.group("mention") for m in _TOKENS.finditer(text) if m.group("mention")}


def hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group("tag").lower() for m in _TOKENS.finditer(text) if m.group("tag")))


def _inline(text: str, known: dict[str, User]) -> str:
    out = []
    position = 0
    for match in _TOKENS.finditer(text):
        out.append(escape(text[position:match.start()]))
        position = match.end()
        if url := match.group("url"):
            out.append(f'<a href="{escape(url)}" rel="nofollow noopener noreferrer" target="_blank">{escape(url)}</a>')
        elif (username := match.group("mention")) and username in known:
            out.append(f'<span class="h-card"><a href="{escape(account_url(known[username]))}" '
                       f'class="u-url mention">@<span>{escape(username)}</span></a></span>')
        elif tag := match.group("tag"):
            out.append(f'<a href="{escape(_base())}/tags/{escape(tag.lower())}" class="mention hashtag" '
                       f'rel="tag">#<span>{escape(tag)}</span></a>')
        else:
            out.append(escape(match.group(0)))
    out.append(escape(text[position:]))
    return "".join(out)


def content_html(text: str, known: dict[str, User]) -> str:
    """Safe HTML of a status text: paragraphs, line breaks, links, @mentions and #hashtags."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + "<br />".join(_inline(line, known) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)


# --- accounts ------------------------------------------------------------------
def account_url(user: User) -> str:
    return f"{_base()}/@{user.username}"


def account_entity(user: User, counts: dict[str, int]) -> dict:
    feed_account = getattr(user, "feed_account", None) if _has_feed_account(user) else None
    last_status = feed_account.last_status_at if feed_account else None
    joined = user.date_joined.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    avatar = _absolute(static("feed/missing.png"))
    return {
        "id": str(user.id),
        "username": user.username,
        "acct": user.username,
        "url": account_url(user),
        "uri": f"{_base()}/users/{user.username}",
        "display_name": user.get_full_name() or user.username,
        "note": "",
        "avatar": avatar,
        "avatar_static": avatar,
        "header": avatar,
        "header_static": avatar,
        "locked": False,
        "fields": [],
        "emojis": [],
        "bot": False,
        "group": False,
        "discoverable": True,
        "indexable": True,
        "noindex": False,
        "hide_collections": False,
        "moved": None,
        "suspended": False,
        "limited": False,
        "memorial": False,
        "roles": [],
        "created_at": iso(joined),
        "last_status_at": last_status.astimezone(UTC).date().isoformat() if last_status else None,
        "statuses_count": counts["statuses_count"],
        "followers_count": counts["followers_count"],
        "following_count": counts["following_count"],
    }


def _has_feed_account(user: User) -> bool:
    try:
        user.feed_account  # noqa: B018 - loaded by select_related, or a query for a single account
    except User.feed_account.RelatedObjectDoesNotExist:
        return False
    return True


def render_accounts(account_ids: Sequence[int]) -> list[dict]:
    """Account entities in the given order (unknown ids dropped): two queries at most."""
    return _account_entities(selectors.accounts_by_ids(account_ids), account_ids)


def _account_entities(users: dict[int, User], account_ids: Sequence[int],
                      live_counts: dict[int, dict] | None = None) -> list[dict]:
    """Entities of the already loaded users (with their feed_account) in the given order;
    ``live_counts``: their Redis counters when the caller read them already."""
    present = [a for a in dict.fromkeys(account_ids) if a in users]
    stored = {a: (users[a].feed_account if _has_feed_account(users[a]) else None) for a in present}
    counts = selectors.account_counts(present, stored=stored, live=live_counts)
    return [account_entity(users[a], counts[a]) for a in account_ids if a in users]


def render_account(user: User) -> dict:
    return render_accounts([user.id])[0]


def credential_account(user: User) -> dict:
    entity = render_account(user)
    entity["source"] = {
        "privacy": "public", "sensitive": False, "language": "", "note": "", "fields": [],
        "follow_requests_count": 0, "hide_collections": False, "discoverable": True, "indexable": True,
        "attribution_domains": [],
    }
    entity["role"] = {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False}
    return entity


def relationship_entity(data: dict) -> dict:
    return {
        "id": str(data["id"]), "following": data["following"], "showing_reblogs": data["following"],
        "notifying": False, "languages": None, "followed_by": data["followed_by"], "blocking": data["blocking"],
        "blocked_by": data["blocked_by"], "muting": data["muting"], "muting_notifications": data["muting"],
        "requested": False, "requested_by": False, "domain_blocking": False, "endorsed": False, "note": "",
    }


def render_relationship(viewer: User, account_id: int) -> dict:
    return relationship_entity(selectors.relationships(viewer=viewer, account_ids=[account_id])[0])


# --- statuses ---------------------------------------------------------------------
def render_statuses(status_ids: Sequence[int], viewer: User | None, *, with_source: bool = False,
                    records: dict[int, dict] | None = None) -> list[dict]:
    """Status entities in the given order; a fixed number of queries whatever the count
    (cache misses, accounts with mentions, counter fallbacks, the viewer's flags) and of Redis
    round trips (cached records unless ``records`` — a selector's Page.records — has them, then
    every counter at once)."""
    records = dict(records or {})
    if missing := [s for s in status_ids if s not in records]:
        records.update(selectors.status_records(missing))
    originals = [r["reblog_of_id"] for s in status_ids if (r := records.get(s)) and r["reblog_of_id"]]
    if missing := [o for o in originals if o not in records]:
        records.update(selectors.status_records(missing))
    shown = [records[s] for s in status_ids if s in records]
    all_records = {**{r["id"]: r for r in shown},
                   **{r["reblog_of_id"]: records[r["reblog_of_id"]] for r in shown
                      if r["reblog_of_id"] in records}}
    usernames = set().union(*(mentioned_usernames(r["text"]) for r in all_records.values()))
    account_ids = list(dict.fromkeys(r["account_id"] for r in all_records.values()))
    # Authors and mentioned accounts in one query.
    users = selectors.accounts_and_mentioned(account_ids, usernames)
    known = {u.username: u for u in users.values() if u.username in usernames and u.is_active}
    live = selectors.live_counters(status_ids=list(all_records), account_ids=[a for a in account_ids if a in users])
    accounts = {int(a["id"]): a for a in _account_entities(users, account_ids, live["a"])}
    counts = selectors.status_counts(list(all_records), live=live["s"])
    attachments = media_by_status([i for i, r in all_records.items() if r.get("has_media")])
    favourited, reblogged = (selectors.viewer_flags(viewer.id, list(all_records))
                             if viewer is not None and viewer.is_authenticated else (set(), set()))

    def entity(record: dict) -> dict:
        status_id = record["id"]
        author = accounts[record["account_id"]]
        original = all_records.get(record["reblog_of_id"]) if record["reblog_of_id"] else None
        flag_id = original["id"] if original else status_id
        text = "" if original else record["text"]
        username = author["username"]
        mentions = [] if original else [
            {"id": str(u.id), "username": u.username, "url": account_url(u), "acct": u.username}
            for name in sorted(mentioned_usernames(text)) if (u := known.get(name))
        ]
        return {
            "id": str(status_id),
            "uri": f"{_base()}/users/{username}/statuses/{status_id}" + ("/activity" if original else ""),
            "url": None if original else f"{_base()}/@{username}/{status_id}",
            "created_at": iso(record["created_at"]),
            "edited_at": None,
            "account": author,
            "content": "" if original else content_html(text, known),
            "text": record["text"] if with_source else None,
            "visibility": record["visibility"],
            "sensitive": False,
            "spoiler_text": "",
            "language": None,
            "in_reply_to_id": str(record["in_reply_to_id"]) if record["in_reply_to_id"] else None,
            "in_reply_to_account_id": (str(record["in_reply_to_account_id"])
                                       if record["in_reply_to_account_id"] else None),
            "reblog": entity(original) if original else None,
            "application": None,
            "media_attachments": [] if original else attachments.get(status_id, []),
            "mentions": mentions,
            "tags": [] if original else [{"name": t, "url": f"{_base()}/tags/{t}"} for t in hashtags(text)],
            "emojis": [],
            "card": None,
            "poll": None,
            "replies_count": counts[status_id]["replies_count"],
            "reblogs_count": counts[status_id]["reblogs_count"],
            "favourites_count": counts[status_id]["favourites_count"],
            "favourited": flag_id in favourited,
            "reblogged": flag_id in reblogged,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "filtered": [],
        }

    return [entity(r) for r in shown]


def render_status(status_id: int, viewer: User | None, *, with_source: bool = False) -> dict:
    return render_statuses([status_id], viewer, with_source=with_source)[0]


def tag_entity(name: str) -> dict:
    """Mastodon's Tag (no usage history kept)."""
    return {"name": name, "url": f"{_base()}/tags/{name}", "history": [], "following": False}


# --- media -----------------------------------------------------------------------
def _media_url(name: str) -> str | None:
    from django.core.files.storage import default_storage

    return _absolute(default_storage.url(name)) if name else None


def media_entity(media) -> dict:
    """Mastodon's MediaAttachment: ``url`` the large size (null while processing),
    ``preview_url`` the thumbnail, every size in ``meta``."""
    meta = {k: v for k, v in (media.meta or {}).items() if k in ("original", "small", "thumb", "medium", "large")}
    if media.ready:
        for size in ("thumb", "medium", "large"):
            meta[size] = {**meta.get(size, {}), "url": _media_url(getattr(media, size))}
    return {
        "id": str(media.id),
        "type": "image",
        "url": _media_url(media.large),
        "preview_url": _media_url(media.thumb),
        "remote_url": None,
        "preview_remote_url": None,
        "text_url": None,
        "meta": meta,
        "description": media.description or None,
        "blurhash": None,
    }


def media_by_status(status_ids: Sequence[int]) -> dict[int, list[dict]]:
    """Attachment entities of the statuses, in upload order (one query, none without ids)."""
    from feed.models import MediaAttachment

    out: dict[int, list[dict]] = {}
    if not status_ids:
        return out
    for media in MediaAttachment.objects.filter(status_id__in=status_ids).order_by("id"):
        out.setdefault(media.status_id, []).append(media_entity(media))
    return out


# --- notifications -----------------------------------------------------------------
def render_notifications(notification_ids: Sequence[int], viewer: User) -> list[dict]:
    """Notification entities in the given order (a fixed number of queries)."""
    from feed.models import Notification

    rows = {n.id: n for n in Notification.objects.filter(id__in=notification_ids, account=viewer)}
    ordered = [rows[i] for i in notification_ids if i in rows]
    accounts = {int(a["id"]): a for a in render_accounts(list(dict.fromkeys(n.from_account_id for n in ordered)))}
    statuses = {int(s["id"]): s for s in render_statuses([n.status_id for n in ordered if n.status_id], viewer)}
    out = []
    for n in ordered:
        if n.from_account_id not in accounts or (n.status_id and n.status_id not in statuses):
            continue
        out.append({
            "id": str(n.id), "type": n.type, "group_key": f"ungrouped-{n.id}", "created_at": iso(n.created_at),
            "account": accounts[n.from_account_id], "status": statuses.get(n.status_id) if n.status_id else None,
        })
    return out


# --- instance ----------------------------------------------------------------------
def _configuration() -> dict:
    return {
        "accounts": {"max_featured_tags": 0, "max_pinned_statuses": 0},
        "statuses": {
            "max_characters": MAX_STATUS_CHARS,
            "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
            "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
        },
        "media_attachments": {
            "supported_mime_types": SUPPORTED_IMAGE_TYPES,
            "image_size_limit": IMAGE_SIZE_LIMIT,
            "image_matrix_limit": IMAGE_MATRIX_LIMIT,
            "video_size_limit": 0,
            "video_frame_rate_limit": 0,
            "video_matrix_limit": 0,
        },
        "polls": {"max_options": 0, "max_characters_per_option": 0, "min_expiration": 0, "max_expiration": 0},
    }


def _streaming_url() -> str:
    return _base().replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def _domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(_base()).netloc


TITLE = "Systems"
DESCRIPTION = "A news feed: posts, follows, favourites and reblogs."


def instance_v1() -> dict:
    stats = selectors.instance_stats()
    return {
        "uri": _domain(),
        "title": TITLE,
        "short_description": DESCRIPTION,
        "description": DESCRIPTION,
        "email": "",
        "version": MASTODON_API_VERSION,
        "urls": {"streaming_api": _streaming_url()},
        "stats": {k: stats[k] for k in ("user_count", "status_count", "domain_count")},
        "thumbnail": None,
        "languages": ["en"],
        "registrations": True,
        "approval_required": False,
        "invites_enabled": False,
        "configuration": _configuration(),
        "contact_account": None,
        "rules": [],
    }


def instance_v2() -> dict:
    stats = selectors.instance_stats()
    configuration = _configuration()
    configuration["urls"] = {"streaming": _streaming_url(), "status": None}
    configuration["translation"] = {"enabled": False}
    configuration["vapid"] = {"public_key": ""}
    return {
        "domain": _domain(),
        "title": TITLE,
        "version": MASTODON_API_VERSION,
        "source_url": "",
        "description": DESCRIPTION,
        "usage": {"users": {"active_month": stats["active_month"]}},
        "thumbnail": {"url": _absolute(static("feed/missing.png")), "blurhash": None, "versions": {}},
        "icon": [],
        "languages": ["en"],
        "configuration": configuration,
        "registrations": {"enabled": True, "approval_required": False, "message": None, "url": None},
        "api_versions": {"mastodon": 2},
        "contact": {"email": "", "account": None},
        "rules": [],
    }
