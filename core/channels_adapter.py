"""The one place that reaches into channels-redis internals: a group send to many groups at once.

channels-redis sends to one group per call, and each call stores one copy of the message per
channel key, so announcing a 500-member chat message with 500 ``group_send`` calls takes 500
round trips and 500 of a server process's ``capacity`` slots. ``group_send_many`` resolves the
channels of every group first and stores one copy per channel key, in a few round trips.

It uses ``RedisChannelLayer``'s private ``_group_key`` and ``_map_channel_keys_to_connection``
and mirrors the Lua of its ``group_send``; they are checked against channels-redis
``SUPPORTED_CHANNELS_REDIS`` only. ``check_channels_redis_version`` (run at start-up by
``core.apps``) refuses any other installed version: read the new ``group_send`` and those two
methods, adapt this module, then raise the supported version.
"""

import asyncio
import logging
import time
from importlib import metadata

from channels.layers import BaseChannelLayer
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

SUPPORTED_CHANNELS_REDIS = "4.3.0"
# Layers other than channels-redis (the in-memory one in tests) get one group_send per group.
FALLBACK_CONCURRENCY = 64


def installed_channels_redis_version() -> str | None:
    try:
        return metadata.version("channels-redis")
    except metadata.PackageNotFoundError:
        return None


def check_channels_redis_version() -> None:
    """Raise ImproperlyConfigured unless the installed channels-redis is the one this adapter reads."""
    installed = installed_channels_redis_version()
    if installed is not None and installed != SUPPORTED_CHANNELS_REDIS:
        raise ImproperlyConfigured(
            f"core.channels_adapter uses private internals of channels-redis {SUPPORTED_CHANNELS_REDIS}, "
            f"but {installed} is installed. Pin channels-redis=={SUPPORTED_CHANNELS_REDIS}, or check "
            "RedisChannelLayer.group_send, _group_key and _map_channel_keys_to_connection of the new "
            "version against core/channels_adapter.py and raise SUPPORTED_CHANNELS_REDIS."
        )


# KEYS: group keys. ARGV[1]: oldest membership score kept. Returns every channel of every group.
_GROUP_CHANNELS = """
local out = {}
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, ARGV[1])
  for _, name in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
    out[#out + 1] = name
  end
end
return out
"""

# channels-redis' group_send script, with its expired-message cleanup done in the same call.
# KEYS: channel keys. ARGV: one message per key, one capacity per key, now, expiry.
# Returns how many keys were over capacity (their copy is dropped).
_SEND_TO_KEYS = """
local over_capacity = 0
local current_time = tonumber(ARGV[#ARGV - 1])
local expiry = tonumber(ARGV[#ARGV])
for i = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, math.floor(current_time) - expiry)
  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
    redis.call('ZADD', KEYS[i], current_time, ARGV[i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    over_capacity = over_capacity + 1
  end
end
return over_capacity
"""


def _is_redis_layer(layer: BaseChannelLayer) -> bool:
    from channels_redis.core import RedisChannelLayer

    return isinstance(layer, RedisChannelLayer)


async def _redis_group_send_many(layer, groups: list[str], message: dict) -> int:
    by_connection: dict[int, list[str]] = {}
    for group in groups:
        by_connection.setdefault(layer.consistent_hash(group), []).append(group)
    channels: list[str] = []
    for index, members in by_connection.items():
        keys = [layer._group_key(group) for group in members]
        names = await layer.connection(index).eval(
            _GROUP_CHANNELS, len(keys), *keys, int(time.time()) - layer.group_expiry
        )
        channels += [name.decode() for name in names]
    if not channels:
        return 0
    to_connection, key_messages, key_capacities = layer._map_channel_keys_to_connection(
        list(dict.fromkeys(channels)), message
    )
    dropped = 0
    for index, keys in to_connection.items():
        args = [key_messages[k] for k in keys] + [key_capacities[k] for k in keys] + [time.time(), layer.expiry]
        over = int(await layer.connection(index).eval(_SEND_TO_KEYS, len(keys), *keys, *args))
        if over:
            logger.warning("group message dropped for %s of %s channel keys (over capacity)", over, len(keys))
        dropped += over
    return dropped


async def group_send_many(layer: BaseChannelLayer, groups: list[str], message: dict) -> int:
    """Send ``message`` to every channel of every group in ``groups`` (each channel once).

    Returns how many channel keys were over capacity and dropped their copy (always 0 for
    layers other than channels-redis). Raises whatever the layer raises (Redis errors).
    """
    groups = list(dict.fromkeys(groups))
    if not groups:
        return 0
    if _is_redis_layer(layer):
        return await _redis_group_send_many(layer, groups, message)
    limit = asyncio.Semaphore(FALLBACK_CONCURRENCY)

    async def send(group: str) -> None:
        async with limit:
            await layer.group_send(group, message)

    await asyncio.gather(*(send(group) for group in groups))
    return 0
