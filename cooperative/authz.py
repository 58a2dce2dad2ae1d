"""Each user's roles, permissions and branches, cached across requests and processes.

Every API request needs the caller's permission set (Django's ModelBackend: two queries) and branch
ids (one query), and the withdrawal endpoints their group names. `user_authz(user)` answers all of
them from the Django cache (Redis in production; the database cache otherwise) in one round trip,
and computes them from the database on a miss.

Freshness: a revoked role, permission or branch takes effect at the caller's next request. Each
cached entry records the two *generation tokens* it was computed under: the user's own token and a
global one. Every change that can alter someone's permissions or branches replaces a token with a
new random value (signal receivers below), once at once and once more after the transaction
commits, so an entry computed from data read before the commit is recognised as stale afterwards:

- the user's token: the user row saved (except a bare `last_login` update) or deleted; the user's
  groups, permissions or branches changed (from either side of the many-to-many);
- the global token: a group's permissions changed; a group or permission saved or deleted, a
  branch deleted (deletions cascade through many-to-many rows without m2m signals).

Readers take the tokens *before* reading the database, so a race with a concurrent change can only
store an entry under a token that is already outdated. A missing token (evicted, cache flushed) is
replaced by a new random one, which invalidates every entry that named the old one. `is_superuser`
is part of the entry too, so even a `QuerySet.update()` of that flag (no signal) cannot leave a
former superuser with every permission. Object-level grants (django-guardian) are not cached: they
are read where needed (`cooperative.permissions.granted_object_pks`).

A Redis outage: the default cache then misses and drops writes (`cooperative.cache`), so every
request computes its entry from the database; when Redis answers again the global token is replaced.

Nothing that matters lives in process memory: the only in-process copy is on the user object, which
DRF/Django load afresh for every request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .cache import on_recovery
from .models import Branch, User

_PREFIX = "coop:authz:v1"
GLOBAL_TOKEN_KEY = f"{_PREFIX}:global"
ENTRY_TIMEOUT = 6 * 3600  # seconds; tokens, not the timeout, keep entries fresh
_MEMO = "_coop_authz"


def _user_token_key(user_pk) -> str:
    return f"{_PREFIX}:user:{user_pk}"


def _entry_key(user_pk) -> str:
    return f"{_PREFIX}:entry:{user_pk}"


@dataclass(frozen=True)
class Authz:
    """What one user may do, as of the tokens it was computed under."""

    tokens: tuple[str, str]
    is_superuser: bool
    user_perms: frozenset[str]
    group_perms: frozenset[str]
    branch_ids: tuple[uuid.UUID, ...]
    group_names: frozenset[str]

    @property
    def perms(self) -> frozenset[str]:
        return self.user_perms | self.group_perms


def _new_token() -> str:
    return uuid.uuid4().hex


def _current_token(key: str, found: str | None) -> str:
    if found is not None:
        return found
    token = _new_token()
    if cache.add(key, token, timeout=None):
        return token
    return cache.get(key) or token  # someone else set it first


def _compute(user, tokens: tuple[str, str]) -> Authz:
    if user.is_superuser:
        all_perms = frozenset(
            f"{app}.{codename}"
            for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
        )
        user_perms = group_perms = all_perms
    else:
        user_perms = frozenset(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list("content_type__app_label", "codename")
        )
        group_perms = frozenset(
            f"{app}.{codename}"
            for app, codename in Permission.objects.filter(group__user=user).values_list(
                "content_type__app_label", "codename"
            )
        )
    return Authz(
        tokens=tokens,
        is_superuser=bool(user.is_superuser),
        user_perms=user_perms,
        group_perms=group_perms,
        branch_ids=tuple(user.branches.values_list("pk", flat=True)),
        group_names=frozenset(user.groups.values_list("name", flat=True)),
    )


def user_authz(user) -> Authz | None:
    """The caller's permissions, branches and groups (None for anonymous or inactive users).

    Also primes Django's per-object permission caches, so `user.has_perm()` answers from it."""
    if user is None or not user.is_authenticated or not getattr(user, "can_sign_in", user.is_active):
        return None  # read from the user row of this request, never from the cache
    memo = user.__dict__.get(_MEMO)
    if memo is not None:
        return memo
    user_key, entry_key = _user_token_key(user.pk), _entry_key(user.pk)
    found = cache.get_many([GLOBAL_TOKEN_KEY, user_key, entry_key])
    tokens = (
        _current_token(GLOBAL_TOKEN_KEY, found.get(GLOBAL_TOKEN_KEY)),
        _current_token(user_key, found.get(user_key)),
    )
    entry = found.get(entry_key)
    if not isinstance(entry, Authz) or entry.tokens != tokens or entry.is_superuser != user.is_superuser:
        entry = _compute(user, tokens)
        cache.set(entry_key, entry, timeout=ENTRY_TIMEOUT)
    user.__dict__[_MEMO] = entry
    # ModelBackend reads these attributes before querying (django.contrib.auth.backends).
    user._user_perm_cache = set(entry.user_perms)
    user._group_perm_cache = set(entry.group_perms)
    user._perm_cache = set(entry.perms)
    return entry


def forget_request_memo(user) -> None:
    """Drop the per-request copy on this user object (tests re-use one object across requests)."""
    for name in (_MEMO, "_user_perm_cache", "_group_perm_cache", "_perm_cache"):
        user.__dict__.pop(name, None)


# --- Invalidation ---------------------------------------------------------------------------------


def _replace_tokens(keys: list[str]) -> None:
    if keys:
        cache.set_many({key: _new_token() for key in keys}, timeout=None)


def _invalidate(keys: list[str]) -> None:
    """New tokens now (readers inside this transaction) and again after commit (everyone else)."""
    _replace_tokens(keys)
    transaction.on_commit(lambda: _replace_tokens(keys))


def invalidate_users(user_pks) -> None:
    _invalidate([_user_token_key(pk) for pk in user_pks])


def invalidate_everyone() -> None:
    _invalidate([GLOBAL_TOKEN_KEY])


def _user_side_m2m(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """User.groups / User.user_permissions / User.branches changed, from either side."""
    if not action.startswith("post_") and action != "pre_clear":
        return
    if not reverse:
        invalidate_users([instance.pk])
    elif pk_set:
        invalidate_users(pk_set)
    else:  # clearing from the group/permission/branch side: the users are not listed
        invalidate_everyone()


for _through in (User.groups.through, User.user_permissions.through, User.branches.through):
    m2m_changed.connect(_user_side_m2m, sender=_through, dispatch_uid=f"authz-{_through.__name__}")


@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="authz-group-permissions")
def _group_permissions_changed(sender, action, **kwargs) -> None:
    if action.startswith("post_") or action == "pre_clear":
        invalidate_everyone()


@receiver(post_save, sender=User, dispatch_uid="authz-user-saved")
def _user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves last_login; nothing about access changed
    invalidate_users([instance.pk])


@receiver(post_delete, sender=User, dispatch_uid="authz-user-deleted")
def _user_deleted(sender, instance, **kwargs) -> None:
    invalidate_users([instance.pk])


def _shared_row_changed(sender, **kwargs) -> None:
    invalidate_everyone()


_model: type[Model]
for _model in (Group, Permission):  # a renamed group or permission changes what names mean
    post_save.connect(_shared_row_changed, sender=_model, dispatch_uid=f"authz-save-{_model.__name__}")
for _model in (Group, Permission, Branch):
    post_delete.connect(_shared_row_changed, sender=_model, dispatch_uid=f"authz-delete-{_model.__name__}")


def _after_cache_outage() -> None:
    """Redis answers again after failing: a change made meanwhile could not replace its token, so
    every entry cached before the outage is outdated at once (cooperative/cache.py)."""
    _replace_tokens([GLOBAL_TOKEN_KEY])


on_recovery.append(_after_cache_outage)
