"""Turning a raw click (ip, user agent, referrer) into what stats need.

Only ``looks_like_bot`` runs in the request (a precompiled regex, microseconds); user-agent
parsing and the country lookup run in the click consumer.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
import threading
from typing import NamedTuple
from urllib.parse import urlsplit

from django.conf import settings

_BOT_RE = re.compile(
    r"bot|crawl|spider|slurp|preview|facebookexternalhit|embedly|quora link|whatsapp|telegram|"
    r"skypeuripreview|vkshare|pinterest|bitlybot|curl/|wget/|python-requests|python-urllib|httpx|"
    r"go-http-client|okhttp|headlesschrome|lighthouse|monitor|uptime|scrapy|axios/|java/",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)
def looks_like_bot(user_agent: str) -> bool:
    return not user_agent or _BOT_RE.search(user_agent) is not None


@functools.lru_cache(maxsize=65536)
def anonymise_ip(ip: str) -> str:
    """IPv4 keeps its /24, IPv6 its /48: enough for a country, not enough for a person."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_geo = None
_geo_lock = threading.Lock()


def _geo_database():
    global _geo
    if _geo is None:
        with _geo_lock:
            if _geo is None:
                from geoip2fast import GeoIP2Fast

                _geo = GeoIP2Fast(verbose=False)
    return _geo


@functools.lru_cache(maxsize=65536)
def country_for(ip: str) -> str:
    geo = _geo_database()
    try:
        code = geo.lookup(ip).country_code
    except Exception:  # noqa: BLE001 - an unparsable address simply has no country
        return ""
    return code if code and len(code) == 2 and code.isalpha() else ""


@functools.lru_cache(maxsize=4096)
def parse_user_agent(user_agent: str) -> tuple[str, str, str, bool]:
    """(device class, browser, os, is bot) for one user-agent string."""
    bot = looks_like_bot(user_agent)
    if not user_agent:
        return "other", "Other", "Other", True
    from ua_parser import parse

    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    device_family = result.device.family if result.device else "Other"
    if device_family == "Spider":
        bot = True
    lowered = user_agent.lower()
    if bot:
        device = "bot"
    elif "ipad" in lowered or "tablet" in lowered or ("android" in lowered and "mobile" not in lowered):
        device = "tablet"
    elif "mobi" in lowered or "iphone" in lowered or "android" in lowered:
        device = "mobile"
    else:
        device = "desktop"
    return device, browser[:64], os_name[:64], bot


def preload() -> None:
    """Load the country database and the user-agent rules now rather than on the first click, so a
    click worker has them before it takes work (and before it freezes what it has loaded)."""
    from ua_parser import parse

    _geo_database()
    parse("Mozilla/5.0")


def referrer_host(referrer: str) -> str:
    if not referrer:
        return "direct"
    try:
        host = urlsplit(referrer).hostname or ""
    except ValueError:
        return "other"
    return host.removeprefix("www.")[:253] or "other"


def visitor_hash(ip: str, user_agent: str, day: str) -> str:
    """A per-day pseudonymous visitor id (the raw address never reaches the database)."""
    material = f"{settings.SECRET_KEY}|{day}|{ip}|{user_agent}".encode()
    return hashlib.blake2b(material, digest_size=16).hexdigest()


class Enriched(NamedTuple):  # one per stored click: a tuple is made far faster than a frozen dataclass
    ip: str
    country: str
    device: str
    browser: str
    os: str
    is_bot: bool
    visitor_hash: str
    referrer_host: str


def enrich(*, ip: str, user_agent: str, referrer: str, method: str, day: str) -> Enriched:
    device, browser, os_name, bot = parse_user_agent(user_agent)
    # HEAD requests are link checkers and preview fetchers, never a person following the link.
    bot = bot or method == "HEAD"
    return Enriched(
        ip=anonymise_ip(ip),
        country=country_for(ip),
        device="bot" if bot else device,
        browser=browser,
        os=os_name,
        is_bot=bot,
        visitor_hash=visitor_hash(ip, user_agent, day),
        referrer_host=referrer_host(referrer),
    )
