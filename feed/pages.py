"""Reads only the web pages need (the JSON API has no equivalent): accounts to suggest following."""

from django.contrib.auth import get_user_model
from django.db.models import Count

from feed.models import Block, Follow, Mute

User = get_user_model()

SUGGESTIONS = 5


def who_to_follow(*, viewer: User, limit: int = SUGGESTIONS) -> list[int]:
    """Account ids the viewer might follow: followed by the accounts they follow, then the most
    followed overall; never themselves, nor anyone they follow, block, mute or are blocked by."""
    excluded = {viewer.id}
    excluded |= set(Follow.objects.filter(follower=viewer).values_list("followee_id", flat=True))
    excluded |= set(Block.objects.filter(account=viewer).values_list("target_id", flat=True))
    excluded |= set(Block.objects.filter(target=viewer).values_list("account_id", flat=True))
    excluded |= set(Mute.objects.filter(account=viewer).values_list("target_id", flat=True))
    following = Follow.objects.filter(follower=viewer).values("followee_id")
    ranked = (Follow.objects.filter(follower_id__in=following, followee__is_active=True)
              .exclude(followee_id__in=excluded).values("followee_id").annotate(n=Count("id"))
              .order_by("-n", "followee_id").values_list("followee_id", flat=True)[:limit])
    ids = list(ranked)
    if len(ids) < limit:
        popular = (User.objects.filter(is_active=True).exclude(id__in=excluded | set(ids))
                   .annotate(n=Count("feed_followers")).order_by("-n", "-id").values_list("id", flat=True))
        ids += list(popular[:limit - len(ids)])
    return ids
