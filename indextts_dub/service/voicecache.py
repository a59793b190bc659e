"""The voice conditioning cache in Redis: speaker embeddings and engine conditioning (IndexTTS2's
speaker and emotion conditioning), keyed by clip content and model, shared by every worker and
the API (the layer of :mod:`indextts_dub.sharedcache`, installed by :func:`.tasks.configure`).

Bounded in size: every value is a key of its own (``indextts-dub:voicecache:v:<sha256 of the
cache key>``); a sorted set orders them by last use and a hash holds their sizes and the total.
A put that takes the total past ``max_bytes`` drops the least recently used values first, in
one Lua script, so concurrent workers never overshoot nor lose count. A value larger than the
bound is not kept. Only our own keys are evicted (the queue's never are); a Redis that restarts
empty only costs the next job the time to compute them again. Hits, misses, puts and
evictions are counted per kind (``embedding``, ``conditioning``) in
``indextts-dub:voicecache:stats`` (:meth:`VoiceCache.stats`).
"""
from __future__ import annotations

import hashlib
import logging
import time

PREFIX = "indextts-dub:voicecache:"
MAX_BYTES = 2 * 1024 ** 3          # default bound: 2 GiB of cached conditioning
_log = logging.getLogger(__name__)

# KEYS: lru, sizes, stats; ARGV: value prefix, member, data, now, max bytes, kind
_PUT = """
local lru, sizes, stats = KEYS[1], KEYS[2], KEYS[3]
local prefix, member, data, now, maxb, kind = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local size = string.len(data)
if size > maxb then return 0 end
local old = tonumber(redis.call('HGET', sizes, member) or '0') or 0
redis.call('SET', prefix .. member, data)
redis.call('HSET', sizes, member, size)
redis.call('ZADD', lru, now, member)
redis.call('HINCRBY', stats, kind .. ':puts', 1)
local total = redis.call('HINCRBY', sizes, '=total', size - old)
while total > maxb do
  local victim = redis.call('ZPOPMIN', lru)
  if #victim == 0 then break end
  local m = victim[1]
  local s = tonumber(redis.call('HGET', sizes, m) or '0') or 0
  redis.call('DEL', prefix .. m)
  redis.call('HDEL', sizes, m)
  redis.call('HINCRBY', stats, 'evicted', 1)
  total = redis.call('HINCRBY', sizes, '=total', -s)
end
return 1
"""


class VoiceCache:
    """The Redis layer (see the module docstring); ``url`` is the broker's."""

    def __init__(self, url: str, max_bytes: int = MAX_BYTES, prefix: str = PREFIX, timeout: float = 3.0):
        import redis

        self.redis = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        self.max_bytes = int(max_bytes)
        self.prefix = prefix
        self._put = self.redis.register_script(_PUT)
        self._warned = False

    def _member(self, key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    @staticmethod
    def _kind(key: str) -> str:
        return key.partition("/")[0] or "other"

    def _failed(self, exc: Exception) -> None:
        if not self._warned:
            _log.warning("the voice cache in Redis is unavailable (%s); computing without it", exc)
            self._warned = True

    def get(self, key: str) -> bytes | None:
        import redis

        member = self._member(key)
        try:
            data = self.redis.get(self.prefix + "v:" + member)
            pipe = self.redis.pipeline(transaction=False)
            if data is not None:
                pipe.zadd(self.prefix + "lru", {member: time.time()}, xx=True)
            pipe.hincrby(self.prefix + "stats", f"{self._kind(key)}:{'hits' if data is not None else 'misses'}", 1)
            pipe.execute()
        except redis.RedisError as exc:
            self._failed(exc)
            return None
        return bytes(data) if data is not None else None

    def put(self, key: str, data: bytes) -> None:
        import redis

        try:
            self._put(keys=[self.prefix + "lru", self.prefix + "sizes", self.prefix + "stats"],
                      args=[self.prefix + "v:", self._member(key), data, time.time(), self.max_bytes, self._kind(key)])
        except redis.RedisError as exc:
            self._failed(exc)

    def stats(self) -> dict[str, int]:
        """Counters (``embedding:hits``, ``conditioning:puts``, ``evicted`` ...) and ``bytes``, the total kept."""
        raw = self.redis.hgetall(self.prefix + "stats")
        out = {k.decode(): int(v) for k, v in raw.items()}
        out["bytes"] = int(self.redis.hget(self.prefix + "sizes", "=total") or 0)
        out["values"] = int(self.redis.zcard(self.prefix + "lru"))
        return out
