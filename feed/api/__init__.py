"""Mastodon's client API (the feed's subset): parse input, call a service or selector, render
Mastodon's entities. Paging follows Mastodon: ``max_id``/``since_id``/``min_id``/``limit`` and a
``Link`` header with ``rel="next"`` and ``rel="prev"``.

The views live by concern in this package; their names are re-exported here for the URL conf.
"""

from feed.api.accounts import *  # noqa: F403
from feed.api.base import *  # noqa: F403
from feed.api.instance import *  # noqa: F403
from feed.api.media import *  # noqa: F403
from feed.api.notifications import *  # noqa: F403
from feed.api.search import *  # noqa: F403
from feed.api.statuses import *  # noqa: F403
