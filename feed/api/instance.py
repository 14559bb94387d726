"""The instance's description and its (empty) custom emojis."""

from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from feed import presenters
from feed.api.base import (
    FeedView,
    mastodon_entity,
)
from feed.oauth import TokenScopes


# --- instance ----------------------------------------------------------------------------
@mastodon_entity
class InstanceV1View(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response(presenters.instance_v1())


@mastodon_entity
class InstanceV2View(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response(presenters.instance_v2())


@mastodon_entity(array=("get",))
class CustomEmojisView(FeedView):
    permission_classes = [AllowAny, TokenScopes]

    def get(self, request):
        return Response([])
