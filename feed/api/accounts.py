"""Accounts: credentials, lookup, statuses, followers, relationships and the follow/block/mute actions."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from core.ids import parse_id
from feed import errors, presenters, selectors
from feed.api.base import (
    FeedView,
    _accounts_page,
    _flag,
    _page_params,
    _paged,
    _viewer,
    mastodon_entity,
    take_limit,
)
from feed.oauth import TokenScopes
from feed.services import limits, relationships
from feed.services.relationships import account_get

MAX_RELATIONSHIP_IDS = 80


# --- accounts ---------------------------------------------------------------------
@mastodon_entity
class VerifyCredentialsView(FeedView):
    scopes = {"GET": "read:accounts"}
    def get(self, request):
        return Response(presenters.credential_account(request.user))


@mastodon_entity
class AccountLookupView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        acct = request.query_params.get("acct", "")
        if not acct.strip():
            raise errors.invalid("acct", "This parameter is required.")
        user = selectors.account_by_acct(acct.strip())
        if user is None:
            raise errors.record_not_found()
        return Response(presenters.render_account(user))


@mastodon_entity
class AccountDetailView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request, account_id: str):
        return Response(presenters.render_account(account_get(account_id=account_id)))


@mastodon_entity(array=("get",))
class AccountStatusesView(FeedView):
    scopes = {"GET": "read:statuses"}
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request, account_id: str):
        account = account_get(account_id=account_id)
        page = selectors.account_statuses_page(
            account=account, viewer=_viewer(request), params=_page_params(request),
            exclude_replies=_flag(request, "exclude_replies"), exclude_reblogs=_flag(request, "exclude_reblogs"),
            only_media=_flag(request, "only_media"), pinned=_flag(request, "pinned"),
        )
        return _paged(request, presenters.render_statuses(page.ids, _viewer(request), records=page.records), page.ids)


@mastodon_entity(array=("get",))
class _AccountListView(FeedView):
    scopes = {"GET": "read:accounts"}
    permission_classes = [AllowAny, TokenScopes]
    selector = None

    def get(self, request, account_id: str):
        return _accounts_page(request, type(self).selector, account=account_get(account_id=account_id))


@mastodon_entity
class FollowersView(_AccountListView):
    selector = staticmethod(selectors.followers_page)


@mastodon_entity
class FollowingView(_AccountListView):
    selector = staticmethod(selectors.following_page)


ACCOUNT_ACTIONS = {
    "follow": relationships.account_follow,
    "unfollow": relationships.account_unfollow,
    "block": relationships.account_block,
    "unblock": relationships.account_unblock,
    "mute": relationships.account_mute,
    "unmute": relationships.account_unmute,
}


ACCOUNT_ACTION_SCOPES = {"follow": "write:follows", "unfollow": "write:follows", "block": "write:blocks",
                         "unblock": "write:blocks", "mute": "write:mutes", "unmute": "write:mutes"}


@mastodon_entity
class AccountActionView(FeedView):
    verb = ""

    @property
    def scopes(self) -> dict[str, str]:
        return {"POST": ACCOUNT_ACTION_SCOPES[self.verb]}

    def post(self, request, account_id: str):
        if self.verb == "follow":
            take_limit(request, limits.FOLLOWS)
        target = ACCOUNT_ACTIONS[self.verb](account=request.user, target_id=account_id)
        return Response(presenters.render_relationship(request.user, target.id))


@mastodon_entity(array=("get",))
class RelationshipsView(FeedView):
    scopes = {"GET": "read:follows"}
    def get(self, request):
        raw = request.query_params.getlist("id[]") or request.query_params.getlist("id")
        if len(raw) > MAX_RELATIONSHIP_IDS:
            raise errors.invalid("id", f"At most {MAX_RELATIONSHIP_IDS} ids.")
        wanted = [i for i in (parse_id(v) for v in raw) if i is not None]
        existing = selectors.accounts_by_ids(wanted)
        ids = [i for i in dict.fromkeys(wanted) if i in existing]
        data = selectors.relationships(viewer=request.user, account_ids=ids)
        return Response([presenters.relationship_entity(r) for r in data])
