"""Search of accounts, hashtags and statuses."""

from rest_framework.response import Response

from feed import errors, presenters, selectors
from feed.api.base import (
    PublicFeedView,
    _page_params,
    _viewer,
    mastodon_entity,
)

SEARCH_TYPES = ("accounts", "hashtags", "statuses")
SEARCH_MAX_QUERY = 500


@mastodon_entity
class SearchView(PublicFeedView):
    """``GET /api/v2/search``: accounts, hashtags and statuses (full-text); offset paging."""

    scopes = {"GET": "read:search"}

    def get(self, request):
        query = request.query_params.get("q", "")
        if not query.strip():
            raise errors.invalid("q", "This parameter is required.")
        if len(query) > SEARCH_MAX_QUERY:
            raise errors.invalid("q", f"At most {SEARCH_MAX_QUERY} characters.")
        kind = request.query_params.get("type") or None
        if kind is not None and kind not in SEARCH_TYPES:
            raise errors.invalid("type", "Must be accounts, hashtags or statuses.")
        params = _page_params(request, maximum=40)
        try:
            offset = int(request.query_params.get("offset") or 0)
        except ValueError:
            raise errors.invalid("offset", "Must be an integer.")
        if not 0 <= offset <= 10_000:
            raise errors.invalid("offset", "Must be between 0 and 10000.")
        viewer = _viewer(request)
        wanted = [kind] if kind else list(SEARCH_TYPES)
        result = {"accounts": [], "statuses": [], "hashtags": []}
        if "accounts" in wanted:
            result["accounts"] = presenters.render_accounts(
                selectors.search_accounts(query=query, limit=params.limit, offset=offset))
        if "hashtags" in wanted:
            result["hashtags"] = [presenters.tag_entity(name) for name in
                                  selectors.search_hashtags(query=query, limit=params.limit, offset=offset)]
        if "statuses" in wanted:
            result["statuses"] = presenters.render_statuses(
                selectors.search_statuses(query=query, viewer=viewer, limit=params.limit, offset=offset), viewer)
        return Response(result)
