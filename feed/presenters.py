"""Mastodon's JSON entities (Status, Account, Relationship, Context, Instance) as documented.

Ids are strings; fields the feed does not support carry their documented empty value
(``[]``, ``null``, ``false``, ``""``), never a missing key. Batch renderers load what a
page needs with a fixed number of queries whatever its length.

Statuses and accounts are built from the parts cached in Redis (``feed.store.entity_cache``),
rendered here from the database on a miss, with the counters and the viewer's flags spliced in
(``feed.entity_json``): the very bytes the hot home read (``feed.hot``) sends.
"""

import json
from collections.abc import Sequence

from django.conf import settings
from django.contrib.auth import get_user_model
from django.templatetags.static import static

from feed import entity_json, selectors
from feed.entity_json import account_url, content_html, hashtags, iso, mentioned_usernames  # noqa: F401 - the API
from feed.models import MAX_STATUS_CHARS
from feed.store import COUNTER_FIELDS, entity_cache

User = get_user_model()

MASTODON_API_VERSION = "4.3.0"
MAX_MEDIA_ATTACHMENTS = 4
IMAGE_SIZE_LIMIT = 10 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 16_777_216
CHARACTERS_RESERVED_PER_URL = 23
SUPPORTED_IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"]


def _base() -> str:
    return settings.PUBLIC_BASE_URL


def _absolute(path: str) -> str:
    return path if path.startswith("http") else _base() + path


def _decimal(counts: dict[str, int], fields: Sequence[str]) -> list[bytes]:
    return [str(counts[field]).encode() for field in fields]


# --- accounts ------------------------------------------------------------------
def _last_status_at(user: User):
    try:
        return user.feed_account.last_status_at  # loaded by select_related
    except User.feed_account.RelatedObjectDoesNotExist:
        return None


def _account_heads(cached: dict[int, tuple], users: dict[int, User]) -> dict[int, bytes]:
    """Cached heads, and those rendered from ``users`` for the misses (then cached); an account
    neither cached nor among ``users`` is left out."""
    heads = {a: head for a, (head, _) in cached.items() if head is not None}
    rendered = {a: (entity_json.account_head(users[a], _last_status_at(users[a])), version)
                for a, (head, version) in cached.items() if head is None and a in users}
    entity_cache.account_heads_cache(rendered)
    heads.update({a: head for a, (head, _) in rendered.items()})
    return heads


def _accounts_json(heads: dict[int, bytes], live: dict[int, dict]) -> dict[int, bytes]:
    counts = selectors.account_counts(list(heads), live=live)
    return {a: entity_json.account_json(head, *_decimal(counts[a], COUNTER_FIELDS["a"]))
            for a, head in heads.items()}


def render_accounts(account_ids: Sequence[int]) -> list[dict]:
    """Account entities in the given order (unknown ids dropped): a query for the accounts not
    cached, and one for counters Redis lacks."""
    ids = list(dict.fromkeys(account_ids))
    inputs = entity_cache.render_inputs([], ids)
    missing = [a for a, (head, _) in inputs.account_heads.items() if head is None]
    users = selectors.accounts_by_ids(missing) if missing else {}
    accounts = _accounts_json(_account_heads(inputs.account_heads, users), inputs.counters["a"])
    entity_cache.counters_mirror("a", inputs.unmirrored["a"])
    return [json.loads(accounts[a]) for a in account_ids if a in accounts]


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
def _status_parts(cached: dict[int, tuple], records: dict[int, dict], users: dict[int, User]) -> dict[int, tuple]:
    """Cached parts, and those rendered for the misses (then cached): ``users`` holds their
    authors and the accounts they mention."""
    parts = {s: p for s, (p, _) in cached.items() if p is not None}
    missing = [s for s, (p, _) in cached.items() if p is None and records[s]["account_id"] in users]
    if not missing:
        return parts
    attachments = media_by_status([s for s in missing if records[s].get("has_media")])
    rendered = {}
    for status_id in missing:
        record = records[status_id]
        usernames = mentioned_usernames(record["text"]) if not record["reblog_of_id"] else set()
        known = {u.username: u for u in users.values() if u.username in usernames and u.is_active}
        rendered[status_id] = (entity_json.status_parts(
            record, author_username=users[record["account_id"]].username, known=known,
            attachments=attachments.get(status_id, [])), cached[status_id][1])
    entity_cache.status_parts_cache(rendered)
    parts.update({s: p for s, (p, _) in rendered.items()})
    return parts


def render_statuses(status_ids: Sequence[int], viewer: User | None, *, with_source: bool = False,
                    records: dict[int, dict] | None = None) -> list[dict]:
    """Status entities in the given order; a fixed number of queries whatever the count (cache
    misses, accounts with mentions, counter fallbacks, the viewer's flags) and of Redis round trips
    (cached records unless ``records`` — a selector's Page.records — has them, then every cached
    part and counter at once)."""
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
    account_ids = list(dict.fromkeys(r["account_id"] for r in all_records.values()))
    inputs = entity_cache.render_inputs(list(all_records), account_ids)
    # The accounts to render (authors of uncached parts, for their addresses, and uncached heads)
    # and the accounts uncached parts mention, in one query.
    unrendered = [all_records[s] for s, (p, _) in inputs.status_parts.items() if p is None]
    wanted = {r["account_id"] for r in unrendered} | {a for a, (h, _) in inputs.account_heads.items() if h is None}
    usernames = set().union(*(mentioned_usernames(r["text"]) for r in unrendered if not r["reblog_of_id"]))
    users = selectors.accounts_and_mentioned(sorted(wanted), usernames) if wanted or usernames else {}
    parts = _status_parts(inputs.status_parts, all_records, users)
    accounts = _accounts_json(_account_heads(inputs.account_heads, users), inputs.counters["a"])
    counts = selectors.status_counts(list(all_records), live=inputs.counters["s"])
    for kind, object_ids in inputs.unmirrored.items():  # after the counters Redis lacked are filled
        entity_cache.counters_mirror(kind, object_ids)
    favourited, reblogged = (selectors.viewer_flags(viewer.id, list(all_records))
                             if viewer is not None and viewer.is_authenticated else (set(), set()))

    def status_json(record: dict, flag_id: int) -> bytes:
        original = all_records.get(record["reblog_of_id"]) if record["reblog_of_id"] else None
        return entity_json.status_json(
            parts[record["id"]], accounts[record["account_id"]],
            status_json(original, flag_id) if original else None,
            _decimal(counts[record["id"]], COUNTER_FIELDS["s"]),
            flag_id in favourited, flag_id in reblogged)

    out = []
    for record in shown:
        entity = json.loads(status_json(record, record["reblog_of_id"] or record["id"]))
        if with_source:
            entity["text"] = record["text"]
            if entity["reblog"] is not None:
                entity["reblog"]["text"] = all_records[record["reblog_of_id"]]["text"]
        out.append(entity)
    return out


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
