"""A cache that survives a Redis outage.

`ResilientCache` answers from its primary cache (Redis) and, when that fails with a connection or
Redis error, from its fallback cache: the database cache for the rate limits (so login throttling
keeps counting: brute-force protection never fails open), or nothing for the default cache (a miss,
a write that is dropped), which every reader of the default cache treats as "compute it from the
database": the permission cache (`cooperative.authz`) and the approval-policy table.

When the primary answers again after failing, the callbacks in `on_recovery` run once in this process:
`cooperative.authz` replaces its global token there, so a role or branch change made while Redis was
unreachable (its invalidation could not be written) cannot leave a stale entry behind.
"""

from __future__ import annotations

import logging
import threading
import time

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django_redis.exceptions import ConnectionInterrupted
from kombu.exceptions import OperationalError as BrokerUnreachable
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


# What an outage of Redis raises (redis-py, django-redis and the plain socket errors under them).
CACHE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    RedisError,
    ConnectionInterrupted,
)

# What an outage of Redis (cache or Celery broker) raises: answered with 503 + Retry-After, never 500.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (*CACHE_ERRORS, BrokerUnreachable)
RETRY_AFTER_SECONDS = 30

on_recovery: list = []  # callables run when a failed primary answers again
_state_lock = threading.Lock()
_failing: dict[str, float] = {}  # primary alias -> when it started failing (this process)

_MISS = {
    "get": lambda args, kwargs: kwargs.get("default", args[1] if len(args) > 1 else None),
    "get_many": lambda args, kwargs: {},
    "add": lambda args, kwargs: False,
    "set_many": lambda args, kwargs: list(args[0]) if args else [],
    "delete": lambda args, kwargs: False,
    "has_key": lambda args, kwargs: False,
    "touch": lambda args, kwargs: False,
}


def primary_failing(alias: str = "redis") -> bool:
    return alias in _failing


class ResilientCache(BaseCache):
    """OPTIONS: PRIMARY (alias of the real cache), FALLBACK (alias, or absent for none)."""

    def __init__(self, location, params):
        super().__init__(params)
        options = params.get("OPTIONS", {})
        self._primary = options["PRIMARY"]
        self._fallback = options.get("FALLBACK")

    @property
    def primary(self) -> BaseCache:
        return caches[self._primary]

    def _call(self, name: str, *args, **kwargs):
        try:
            result = getattr(self.primary, name)(*args, **kwargs)
        except CACHE_ERRORS as exc:
            self._failed(exc)
            if self._fallback:
                return getattr(caches[self._fallback], name)(*args, **kwargs)
            if name == "incr":
                raise ValueError("cache unavailable") from exc  # what a missing key raises
            miss = _MISS.get(name)
            return miss(args, kwargs) if miss else None
        if self._primary in _failing:
            self._recovered()
        return result

    def _failed(self, exc) -> None:
        with _state_lock:
            first = self._primary not in _failing
            _failing.setdefault(self._primary, time.monotonic())
        if first:
            log.error("Cache %r unreachable (%s); degrading", self._primary, exc.__class__.__name__)

    def _recovered(self) -> None:
        with _state_lock:
            if _failing.pop(self._primary, None) is None:
                return
        log.warning("Cache %r reachable again", self._primary)
        for callback in list(on_recovery):
            try:
                callback()
            except CACHE_ERRORS:  # failed again at once: the next success retries
                self._failed(ConnectionError("recovery"))

    def get(self, key, default=None, version=None):
        return self._call("get", key, default, version=version)

    def get_many(self, keys, version=None):
        return self._call("get_many", keys, version=version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set", key, value, timeout, version=version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("set_many", data, timeout, version=version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("add", key, value, timeout, version=version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call("touch", key, timeout, version=version)

    def delete(self, key, version=None):
        return self._call("delete", key, version=version)

    def delete_many(self, keys, version=None):
        return self._call("delete_many", keys, version=version)

    def incr(self, key, delta=1, version=None):
        return self._call("incr", key, delta, version=version)

    def has_key(self, key, version=None):
        return self._call("has_key", key, version=version)

    def clear(self):
        return self._call("clear")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        # Backend extras (django-redis's delete_pattern, lock, ...) go straight to the primary.
        return getattr(self.primary, name)
