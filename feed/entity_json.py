"""Status and Account JSON as bytes: parts rendered once per status or account, and the splice.

A Status has fields that are the same for every reader and do not change once written (ids,
addresses, its text as HTML, mentions, tags, attachments) and fields read at each request: its
counters, the reader's ``favourited`` and ``reblogged``, the author's Account and, for a reblog, the
reblogged Status. ``status_parts`` renders the first kind once, as three runs of members of DRF's
JSON (the renderer every view answers with), and ``status_json`` splices the others in between;
``account_head`` and ``account_json`` do the same for an Account and its counters.

DRF writes a dict as ``{`` + its members joined by ``,`` + ``}``, so joining runs of members
rendered apart gives the very bytes of rendering the whole dict. The hot home read sends the
spliced bytes as they are; the Django views parse them into the dicts DRF renders again, which
gives the same bytes (the JSON round trip keeps order, strings and numbers): both paths answer
alike by construction, whichever path filled the cache (``feed.store.entity_cache``).

Nothing here reads the database or Redis: callers pass what a part shows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.templatetags.static import static
from django.utils.html import escape
from rest_framework.renderers import JSONRenderer

StatusParts = tuple[bytes, bytes, bytes]  # head, mid, tail

_TOKENS = re.compile(
    r"(?P<url>https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]])"
    r"|(?<![\w/@])@(?P<mention>\w(?:[\w.+-]*\w)?)"
    r"|(?<![\w&/#])#(?P<tag>\w+)"
)


def _base() -> str:
    return settings.PUBLIC_BASE_URL


def _absolute(path: str) -> str:
    return path if path.startswith("http") else _base() + path


def iso(value: datetime | str | None) -> str | None:
    """Mastodon's timestamp: UTC, milliseconds, ``Z``."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def members(data: dict) -> bytes:
    """The members of ``data`` as DRF's JSON renderer writes them, without the braces."""
    return JSONRenderer().render(data)[1:-1]


# --- text ------------------------------------------------------------------------
def mentioned_usernames(text: str) -> set[str]:
    return {m.group("mention") for m in _TOKENS.finditer(text) if m.group("mention")}


def hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group("tag").lower() for m in _TOKENS.finditer(text) if m.group("tag")))


def _inline(text: str, known: dict) -> str:
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


def content_html(text: str, known: dict) -> str:
    """Safe HTML of a status text: paragraphs, line breaks, links, @mentions and #hashtags
    (``known``: username -> user, the mentioned accounts that exist)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + "<br />".join(_inline(line, known) for line in p.split("\n")) + "</p>"
                   for p in paragraphs)


# --- accounts ----------------------------------------------------------------------
def account_url(user) -> str:
    return f"{_base()}/@{user.username}"


def account_fields(user, last_status_at: datetime | None) -> dict:
    """Mastodon's Account but for its counters, which follow ``last_status_at``."""
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
        "last_status_at": last_status_at.astimezone(UTC).date().isoformat() if last_status_at else None,
    }


def account_head(user, last_status_at: datetime | None) -> bytes:
    return members(account_fields(user, last_status_at))


def account_json(head: bytes, statuses_count: bytes, followers_count: bytes, following_count: bytes) -> bytes:
    """An Account: its head and its counters (decimal, as Redis gives them)."""
    return splice(ACCOUNT_LAYOUT, {"head": head, "statuses_count": statuses_count,
                                   "followers_count": followers_count, "following_count": following_count})


# --- statuses -----------------------------------------------------------------------
def status_parts(record: dict, *, author_username: str, known: dict, attachments: Sequence[dict]) -> StatusParts:
    """The parts of a status every reader sees alike (``record``: ``feed.selectors.status_records``;
    ``known``: username -> user of the mentioned accounts that exist; ``attachments``: its
    MediaAttachment entities). A reblog shows no text of its own: the reblogged Status does."""
    status_id = record["id"]
    reblog = bool(record["reblog_of_id"])
    text = "" if reblog else record["text"]
    head = {
        "id": str(status_id),
        "uri": f"{_base()}/users/{author_username}/statuses/{status_id}" + ("/activity" if reblog else ""),
        "url": None if reblog else f"{_base()}/@{author_username}/{status_id}",
        "created_at": iso(record["created_at"]),
        "edited_at": None,
    }
    mid = {
        "content": "" if reblog else content_html(text, known),
        "text": None,  # the source text, only in the answer to its deletion (``with_source``)
        "visibility": record["visibility"],
        "sensitive": False,
        "spoiler_text": "",
        "language": None,
        "in_reply_to_id": str(record["in_reply_to_id"]) if record["in_reply_to_id"] else None,
        "in_reply_to_account_id": str(record["in_reply_to_account_id"]) if record["in_reply_to_account_id"] else None,
    }
    mentions = [] if reblog else [
        {"id": str(u.id), "username": u.username, "url": account_url(u), "acct": u.username}
        for name in sorted(mentioned_usernames(text)) if (u := known.get(name))
    ]
    tail = {
        "application": None,
        "media_attachments": [] if reblog else list(attachments),
        "mentions": mentions,
        "tags": [] if reblog else [{"name": t, "url": f"{_base()}/tags/{t}"} for t in hashtags(text)],
        "emojis": [],
        "card": None,
        "poll": None,
    }
    return members(head), members(mid), members(tail)


def status_json(parts: StatusParts, account: bytes, reblog: bytes | None, counts: Sequence[bytes],
                favourited: bool, reblogged: bool) -> bytes:
    """A Status: its parts, its author's Account JSON, the reblogged Status JSON (None for a post),
    its counters (replies, reblogs, favourites: decimal, as Redis gives them) and the reader's flags."""
    head, mid, tail = parts
    return splice(STATUS_LAYOUT, {
        "head": head, "account": account, "mid": mid, "reblog": NULL if reblog is None else reblog, "tail": tail,
        "replies_count": counts[0], "reblogs_count": counts[1], "favourites_count": counts[2],
        "favourited": TRUE if favourited else FALSE, "reblogged": TRUE if reblogged else FALSE,
    })


def json_array(items: Sequence[bytes]) -> bytes:
    """DRF's rendering of a list whose items were rendered already."""
    return ARRAY_OPEN + ARRAY_SEPARATOR.join(items) + ARRAY_CLOSE


# --- the layouts ------------------------------------------------------------------------
# How the parts and the live values join into an entity: literal JSON (bytes) and named slots (str).
# ``splice`` follows them here; ``feed.store.home_read`` compiles them into its Lua script, so the
# hot read splices exactly as the views do.
Layout = tuple[bytes | str, ...]
STATUS_LAYOUT: Layout = (
    b"{", "head", b',"account":', "account", b",", "mid", b',"reblog":', "reblog", b",", "tail",
    b',"replies_count":', "replies_count", b',"reblogs_count":', "reblogs_count",
    b',"favourites_count":', "favourites_count", b',"favourited":', "favourited", b',"reblogged":', "reblogged",
    b',"muted":false,"bookmarked":false,"pinned":false,"filtered":[]}',
)
ACCOUNT_LAYOUT: Layout = (
    b"{", "head", b',"statuses_count":', "statuses_count", b',"followers_count":', "followers_count",
    b',"following_count":', "following_count", b"}",
)
TRUE, FALSE, NULL = b"true", b"false", b"null"
ARRAY_OPEN, ARRAY_SEPARATOR, ARRAY_CLOSE = b"[", b",", b"]"


def splice(layout: Layout, values: dict[str, bytes]) -> bytes:
    return b"".join(values[piece] if isinstance(piece, str) else piece for piece in layout)
