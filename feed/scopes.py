"""OAuth scopes as Mastodon names them, and which granted scope covers which required one.

Plain data (no Django imports): the settings read ``OAUTH_SCOPES`` too.
"""

_READ = ["accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists", "mutes",
         "notifications", "search", "statuses"]
_WRITE = ["accounts", "blocks", "bookmarks", "conversations", "favourites", "filters", "follows", "lists",
          "media", "mutes", "notifications", "reports", "statuses"]
# Mastodon's legacy ``follow`` scope: relationships, read and write.
_FOLLOW_COVERS = {"read:blocks", "write:blocks", "read:follows", "write:follows", "read:mutes", "write:mutes"}

OAUTH_SCOPES: dict[str, str] = {
    "read": "Read all your account's data",
    "write": "Modify all your account's data",
    "follow": "Modify account relationships",
    "push": "Receive your push notifications",
    "profile": "Read only your account's profile information",
    **{f"read:{name}": f"Read your {name.replace('_', ' ')}" for name in _READ},
    **{f"write:{name}": f"Modify your {name.replace('_', ' ')}" for name in _WRITE},
}


def scope_granted(required: str, granted: set[str] | frozenset[str]) -> bool:
    """Whether ``granted`` covers ``required`` (``read`` covers ``read:statuses``, ``follow``
    covers relationship scopes)."""
    if required in granted:
        return True
    top = required.split(":", 1)[0]
    if top != required and top in granted:
        return True
    return required in _FOLLOW_COVERS and "follow" in granted
