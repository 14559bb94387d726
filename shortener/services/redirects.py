"""Following a short link on the Django side (the hot path hands over everything unusual)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.hashers import check_password

from core.ratelimit import RateLimit, check
from shortener import selectors, store
from shortener.enrichment import looks_like_bot
from shortener.models import Link, LinkState
from shortener.services.links import link_claim_limited_click

PASSWORD_ATTEMPTS = RateLimit("shortener-password", limit=10, period=60)


class Outcome(StrEnum):
    REDIRECT = "redirect"
    NOT_FOUND = "not_found"
    GONE = "gone"
    PASSWORD_REQUIRED = "password_required"
    PASSWORD_WRONG = "password_wrong"
    RATE_LIMITED = "rate_limited"


@dataclass(frozen=True)
class Visit:
    method: str  # GET, HEAD or POST (the password form)
    referrer: str
    ip: str
    user_agent: str
    password: str | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    location: str = ""
    status: int = 302
    retry_after: int = 0


def redirect_follow(*, code: str, visit: Visit) -> Decision:
    """Decide the answer for ``/<code>`` and record the click when it redirects.

    Expiry is judged against the clock on every request, whatever the cache says; a max_clicks
    budget is taken by one conditional UPDATE, so concurrent visitors never get past the limit;
    a HEAD is answered like a GET but recorded as a bot and never counted.
    """
    entry = selectors.link_for_redirect(code)
    if entry is None:
        return Decision(Outcome.NOT_FOUND)
    if entry.state != LinkState.ACTIVE or entry.is_expired(time.time()):
        return Decision(Outcome.GONE)
    if entry.has_password:
        if visit.password is None:  # HEAD included: the form, never the target, without the password
            return Decision(Outcome.PASSWORD_REQUIRED)
        limit = check(PASSWORD_ATTEMPTS, f"{visit.ip}:{code}")
        if not limit.allowed:
            return Decision(Outcome.RATE_LIMITED, retry_after=max(1, int(limit.retry_after + 0.999)))
        link = Link.objects.filter(short_code=code).only("password_hash").first()
        if link is None or not check_password(visit.password, link.password_hash):
            return Decision(Outcome.PASSWORD_WRONG)
    counted = visit.method != "HEAD" and not looks_like_bot(visit.user_agent)
    if entry.max_clicks is not None:
        link = Link.objects.filter(short_code=code).only("pk", "served_count", "max_clicks").first()
        if visit.method == "HEAD":  # answers like a GET would, without spending the budget
            has_budget = link is not None and link.served_count < (link.max_clicks or 0)
        else:
            has_budget = link is not None and link_claim_limited_click(link_id=link.pk)
        if not has_budget:
            store.cache_invalidate(code)
            return Decision(Outcome.GONE)
    store.click_record(
        code, referrer=visit.referrer, ip=visit.ip, user_agent=visit.user_agent,
        method="HEAD" if visit.method == "HEAD" else "GET", count=counted,
    )
    return Decision(Outcome.REDIRECT, location=entry.long_url, status=entry.redirect_type)
