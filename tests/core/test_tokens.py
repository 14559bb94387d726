"""The one token check: header parsing, resolution through the Redis cache, revocation."""

import pytest
from asgiref.sync import sync_to_async
from rest_framework.authtoken.models import Token

from core import store as core_store
from core import tokens
from core.redis import get_redis
from core.services import token_for


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Token abc123", "abc123"),
        ("Bearer abc123", "abc123"),
        ("bearer abc123", "abc123"),
        ("TOKEN abc123", "abc123"),
        ("  Bearer   abc123  ", "abc123"),
        ("Basic abc123", None),
        ("Bearer", None),
        ("Bearer a b", None),
        ("abc123", None),
        ("", None),
        ("Bearer " + "x" * 300, None),
    ],
)
def test_parse_authorization(header, key):
    assert tokens.parse_authorization(header) == key


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer"])
def test_both_schemes_resolve_to_the_user(user, scheme):
    key = token_for(user).key
    assert tokens.user_id_for_token(tokens.parse_authorization(f"{scheme} {key}")) == user.pk


@pytest.mark.django_db
def test_unknown_key_resolves_to_none_and_is_negatively_cached(django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(tokens, "_sources", [tokens.drf_token_source])  # apps' sources add one query each
    with django_assert_num_queries(1):
        assert tokens.user_id_for_token("no-such-key") is None
    with django_assert_num_queries(0):
        assert tokens.user_id_for_token("no-such-key") is None
    assert 0 < get_redis().ttl(core_store.token_cache_key("no-such-key")) <= core_store.TOKEN_NEGATIVE_TTL


@pytest.mark.django_db
def test_inactive_user_resolves_to_none(make_user):
    key = token_for(make_user("sleepy", is_active=False)).key
    assert tokens.user_id_for_token(key) is None


@pytest.mark.django_db
def test_a_resolved_key_is_cached_briefly(user, django_assert_num_queries):
    key = token_for(user).key
    assert tokens.user_id_for_token(key) == user.pk
    with django_assert_num_queries(0):
        assert tokens.user_id_for_token(key) == user.pk
    assert 0 < get_redis().ttl(core_store.token_cache_key(key)) <= core_store.TOKEN_CACHE_TTL
    assert key not in str(get_redis().keys("core:token:*"))  # only a digest of the key is stored


@pytest.mark.django_db
def test_a_deleted_token_stops_resolving_at_once_after_invalidation(user):
    key = token_for(user).key
    assert tokens.user_id_for_token(key) == user.pk
    Token.objects.filter(key=key).delete()
    assert tokens.user_id_for_token(key) == user.pk  # still cached: invalidation is what revokes
    tokens.token_invalidate(key)
    assert tokens.user_id_for_token(key) is None


@pytest.mark.django_db(transaction=True)
async def test_a_deleted_token_stops_resolving_at_once_after_invalidation_async(user):
    key = (await sync_to_async(token_for)(user)).key
    assert await tokens.auser_id_for_token(key) == user.pk
    await Token.objects.filter(key=key).adelete()
    assert await tokens.auser_id_for_token(key) == user.pk
    await sync_to_async(tokens.token_invalidate)(key)
    assert await tokens.auser_id_for_token(key) is None
    assert await tokens.auser_id_for_token("no-such-key") is None


@pytest.mark.django_db(transaction=True)
async def test_async_and_sync_share_one_cache(user):
    key = (await sync_to_async(token_for)(user)).key
    assert await tokens.auser_id_for_token(key) == user.pk
    await Token.objects.filter(key=key).adelete()
    assert await sync_to_async(tokens.user_id_for_token)(key) == user.pk  # answered by the cache


@pytest.mark.django_db
def test_a_lookup_racing_a_revocation_cannot_write_the_key_back(user, monkeypatch):
    """The source answers, then the token is deleted and invalidated before the answer is cached."""
    key = token_for(user).key

    def source_then_revoke(candidate):
        user_id = tokens.drf_token_source(candidate)
        Token.objects.filter(key=candidate).delete()
        tokens.token_invalidate(candidate)
        return user_id

    monkeypatch.setattr(tokens, "_sources", [source_then_revoke])
    assert tokens.user_id_for_token(key) == user.pk  # the request already in flight
    monkeypatch.setattr(tokens, "_sources", [tokens.drf_token_source])
    assert tokens.user_id_for_token(key) is None


@pytest.mark.django_db
def test_deactivating_a_user_drops_their_cached_keys_at_once(user):
    key = token_for(user).key
    assert tokens.user_id_for_token(key) == user.pk
    user.is_active = False
    user.save(update_fields=["is_active"])
    tokens.user_tokens_invalidate(user.pk)
    assert tokens.user_id_for_token(key) is None


@pytest.mark.django_db
def test_registered_sources_are_asked_after_drf_tokens(user, make_user, monkeypatch):
    other = make_user("oauth-user")
    monkeypatch.setattr(tokens, "_sources", [tokens.drf_token_source])  # without the apps' own sources
    tokens.register_token_source(lambda key: other.pk if key == "access-token-1" else None)
    tokens.register_token_source(tokens.drf_token_source)  # already there: not added twice
    assert len(tokens._sources) == 2
    assert tokens.user_id_for_token("access-token-1") == other.pk
    assert tokens.user_id_for_token(token_for(user).key) == user.pk
    assert tokens.user_id_for_token("access-token-2") is None


@pytest.mark.django_db
def test_an_unreachable_cache_falls_back_to_the_sources(user, monkeypatch):
    import redis

    key = token_for(user).key
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(tokens, "get_redis", lambda: dead)
    assert tokens.user_id_for_token(key) == user.pk
    assert tokens.user_id_for_token("no-such-key") is None


@pytest.mark.django_db(transaction=True)
async def test_an_unreachable_cache_falls_back_to_the_sources_async(user, settings):
    key = (await sync_to_async(token_for)(user)).key
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # the hot-path connection of this event loop only
    assert await tokens.auser_id_for_token(key) == user.pk
    assert await tokens.auser_id_for_token("no-such-key") is None
