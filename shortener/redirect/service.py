"""Following a short link: the rule of what may be answered directly, and the redirect service.

``answers_directly`` is the one definition of "a plain active link" — a redirect that needs no
decision beyond the cached entry. The hot path applies it in Lua (``shortener.store``; a test
checks the two agree over a table of cases); Django's view calls ``redirect_follow`` for the rest.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

import redis
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.db.models import F

from core.ratelimit import RateLimit, check
from core.snowflake import next_id
from shortener import selectors, store
from shortener.enrichment import looks_like_bot
from shortener.models import Link, LinkState
from shortener.services.clicks import clicks_store, direct_entry_id
from shortener.services.links import link_claim_limited_click

logger = logging.getLogger(__name__)

PASSWORD_ATTEMPTS = RateLimit("shortener-password", limit=10, period=60)
PASSWORD_RETRY_SECONDS = 5
# Probing codes costs us a lookup each: a client gets this many unknown-code answers a minute.
UNKNOWN_CODES = RateLimit("shortener-unknown-code", limit=120, period=60)

# A 301 may be cached by browsers briefly (its clicks are then not seen); a 302 never.
CACHE_CONTROL = {301: "private, max-age=90", 302: "no-store"}


def answers_directly(entry: store.CachedLink, now: float) -> bool:
    """A plain active link: active, unexpired, no password, no click limit. Nothing to decide."""
    return (
        entry.state == LinkState.ACTIVE
        and not entry.is_expired(now)
        and not entry.has_password
        and entry.max_clicks is None
    )


def counts_as_visit(*, method: str, user_agent: str) -> bool:
    """A person following the link: not a HEAD, not a bot or link previewer. Only these count."""
    return method != "HEAD" and not looks_like_bot(user_agent)


class Outcome(StrEnum):
    REDIRECT = "redirect"
    NOT_FOUND = "not_found"
    GONE = "gone"
    PASSWORD_REQUIRED = "password_required"
    PASSWORD_WRONG = "password_wrong"
    RATE_LIMITED = "rate_limited"  # password attempts
    TOO_MANY_UNKNOWN = "too_many_unknown"  # unknown codes
    PASSWORD_UNAVAILABLE = "password_unavailable"  # attempts cannot be limited right now


# Where a request's visit id lives in its ASGI scope: the hot path sets it before its first attempt
# to record the click, and Django's view, handed the same request, records the click under it too.
VISIT_ID_SCOPE_KEY = "shortener.visit_id"
# Set in the scope while the hot path's recording of the visit may have reached Redis (its script
# call failed, or it recorded and then could not answer). Redis keeps nothing per visit, so Django's
# view then records the click in the database, where the unique visit id meets any stream entry of
# that attempt (``shortener.services.clicks``), rather than sending the visit to Redis a second time.
VISIT_SENT_SCOPE_KEY = "shortener.visit_sent"


def visit_id_for(scope: dict | None) -> int:
    """The id of the visit ``scope`` is (a Snowflake, given once per request); a new one without a scope."""
    if scope is None:
        return next_id()
    visit_id = scope.get(VISIT_ID_SCOPE_KEY)
    if visit_id is None:
        visit_id = scope[VISIT_ID_SCOPE_KEY] = next_id()
    return visit_id


def visit_sent_to_redis(scope: dict | None) -> bool:
    """Whether the hot path may already have recorded this request's visit in Redis."""
    return bool(scope and scope.get(VISIT_SENT_SCOPE_KEY))


@dataclass(frozen=True)
class Visit:
    method: str  # GET, HEAD or POST (the password form)
    referrer: str
    ip: str
    user_agent: str
    password: str | None = None
    visit_id: int | None = None  # None: a new visit id
    sent_to_redis: bool = False  # the hot path may have recorded it already: record in the database


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    location: str = ""
    status: int = 302
    retry_after: int = 0


def redirect_follow(*, code: str, visit: Visit) -> Decision:
    """Decide the answer for ``/<code>`` and record the click when it redirects.

    Expiry is judged against the clock on every request, whatever the cache says; a max_clicks
    budget is taken by one conditional UPDATE, so concurrent visitors never get past the limit,
    and only by visits that count: a HEAD or a bot (link previewers included) is answered like a
    person would be without spending it. With Redis unreachable the link is read from the
    database and the click written there directly. A click is recorded once per visit id, even
    when an earlier attempt of the same visit (the hot path's) reached Redis but lost its reply:
    such a visit (``sent_to_redis``), and any whose Redis write fails, is written to the database.
    """
    now = time.time()
    try:
        entry = selectors.link_for_redirect(code)
        redis_up = True
    except redis.RedisError:
        logger.warning("redirect cache unreachable; reading %s from the database", code)
        entry, redis_up = selectors.link_from_database(code), False
    if entry is None:
        return _not_found(visit.ip, redis_up=redis_up)
    if entry.state != LinkState.ACTIVE or entry.is_expired(now):
        return Decision(Outcome.GONE)
    if entry.has_password:
        if visit.password is None:  # HEAD included: the form, never the target, without the password
            return Decision(Outcome.PASSWORD_REQUIRED)
        try:
            limit = check(PASSWORD_ATTEMPTS, f"{visit.ip}:{code}")
        except redis.RedisError:
            # Unlimited guessing is not on offer, even while Redis is away: ask the visitor to retry.
            return Decision(Outcome.PASSWORD_UNAVAILABLE, retry_after=PASSWORD_RETRY_SECONDS)
        if not limit.allowed:
            return Decision(Outcome.RATE_LIMITED, retry_after=max(1, int(limit.retry_after + 0.999)))
        link = Link.objects.filter(short_code=code).only("password_hash").first()
        if link is None or not check_password(visit.password, link.password_hash):
            return Decision(Outcome.PASSWORD_WRONG)
    counted = counts_as_visit(method=visit.method, user_agent=visit.user_agent)
    if entry.max_clicks is not None:
        link = Link.objects.filter(short_code=code).only("pk", "served_count", "max_clicks").first()
        if not counted:  # answered like a person would be, without spending the budget
            has_budget = link is not None and link.served_count < (link.max_clicks or 0)
        else:
            has_budget = link is not None and link_claim_limited_click(link_id=link.pk)
        if not has_budget:
            if redis_up:
                store.cache_invalidate(code)
            return Decision(Outcome.GONE)
    click = {"referrer": visit.referrer, "ip": visit.ip, "user_agent": visit.user_agent,
             "method": "HEAD" if visit.method == "HEAD" else "GET", "count": counted,
             "visit_id": next_id() if visit.visit_id is None else visit.visit_id}
    try:
        if not redis_up or visit.sent_to_redis:
            raise redis.ConnectionError("not through Redis")
        store.click_record(code, **click)
    except redis.RedisError:
        click_record_in_database(code, **click)
    return Decision(Outcome.REDIRECT, location=entry.long_url, status=entry.redirect_type)


def _not_found(ip: str, *, redis_up: bool) -> Decision:
    if redis_up:
        limit = check(UNKNOWN_CODES, ip)
        if not limit.allowed:
            return Decision(Outcome.TOO_MANY_UNKNOWN, retry_after=max(1, int(limit.retry_after + 0.999)))
    return Decision(Outcome.NOT_FOUND)


def click_record_in_database(code: str, *, referrer: str, ip: str, user_agent: str, method: str,
                             count: bool, visit_id: int) -> bool:
    """The click as the consumer would store it (Click row, rollups, click_count), without Redis.

    Nothing goes to the stream or the pending counters, so nothing is counted twice when Redis
    returns: a visit already stored adds nothing, and a stream entry of this visit (an earlier
    attempt whose reply was lost) is recognised by the consumer. Returns whether a row was added.
    """
    fields = {"c": code, "r": referrer[:512], "i": ip, "a": user_agent[:512], "m": method,
              "v": str(visit_id), "k": "1" if count else "0"}
    with transaction.atomic():
        inserted = clicks_store([(direct_entry_id(visit_id), fields)]).inserted > 0
        if inserted and count:
            Link.objects.filter(short_code=code).update(click_count=F("click_count") + 1)
    return inserted
