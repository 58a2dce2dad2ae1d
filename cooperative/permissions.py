"""Branch scoping: one mechanism for every admin screen and API view.

A model opts in by naming the lookup path to its branch in `branch_scope_field` (e.g. "branch",
"member__branch", "pk" for Branch itself). Staff then see only rows of their own branches unless they
hold `cooperative.view_all_branches`; django-guardian object grants (`view_<model>` on one row) add
single rows on top, e.g. a loan shared with head office credit.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from guardian.models import GroupObjectPermission, UserObjectPermission

from .authz import user_authz
from .exceptions import NotAllowed

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User

VIEW_ALL_BRANCHES = "cooperative.view_all_branches"
# Changing other users' roles, branches and individual permissions (admin; superusers always may).
MANAGE_ROLES = "cooperative.manage_roles"

_M = TypeVar("_M", bound=Model)


def sees_all_branches(user) -> bool:
    if not user or not user.is_authenticated or not user.is_active:
        return False
    user_authz(user)  # primes the permission cache has_perm reads
    return user.has_perm(VIEW_ALL_BRANCHES)


def user_branch_ids(user: User | AnonymousUser | None) -> list[uuid.UUID]:
    """Branch ids the user belongs to (from `cooperative.authz`: cached, invalidated on change)."""
    authz = user_authz(user) if user else None
    return list(authz.branch_ids) if authz is not None else []


def scope_field_of(model: type[Model]) -> str | None:
    return getattr(model, "branch_scope_field", None)


def scope_queryset(queryset: QuerySet, user) -> QuerySet:
    """Filter `queryset` to what `user` may see. Models without a scope field are returned as is."""
    field = scope_field_of(queryset.model)
    if field is None or sees_all_branches(user):
        return queryset
    if not user or not user.is_authenticated or not user.is_active:
        return queryset.none()
    condition = Q(**{f"{field}__in": user_branch_ids(user)})
    granted = granted_object_pks(user, queryset.model)
    if granted:
        condition |= Q(pk__in=granted)
    scoped = queryset.filter(condition)
    # A many-to-many scope path (User.branches) repeats rows; remove the duplicates.
    if "__" in field or field == "branches":
        scoped = scoped.distinct()
    return scoped


def granted_object_pks(user, model: type[Model]) -> list:
    """Primary keys of `model` rows granted to `user` one by one (django-guardian `view_<model>`,
    directly or through a group). Usually empty. Not cached: a grant takes effect at once.

    One plain indexed query instead of guardian's nested subquery in every scoped query: that
    subquery cost more to build and plan than the lookup itself on the posting hot path."""

    content_type = ContentType.objects.get_for_model(model)  # cached by Django
    codename = f"view_{model._meta.model_name}"
    direct = UserObjectPermission.objects.filter(
        user=user, content_type=content_type, permission__codename=codename
    ).values_list("object_pk", flat=True)
    via_groups = GroupObjectPermission.objects.filter(
        group__user=user, content_type=content_type, permission__codename=codename
    ).values_list("object_pk", flat=True)
    to_python = model._meta.pk.to_python
    return sorted({to_python(pk) for pk in direct.union(via_groups)}, key=str)


def get_scoped_object_or_404(queryset: QuerySet[_M], user, **lookup) -> _M:
    """Out-of-scope rows answer 404, exactly like rows that do not exist."""
    try:
        return scope_queryset(queryset, user).get(**lookup)
    # The plugin declares DoesNotExist on concrete models only, not on a type bound to Model.
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:  # type: ignore[attr-defined]
        raise Http404 from exc


def can_see_row(
    user: User | AnonymousUser | None, model: type[Model], pk: object, branch_id: uuid.UUID | None
) -> bool:
    """Would `scope_queryset(model.objects.all(), user)` include the row (`pk`, in `branch_id`)?

    Decided in Python on a row already read (e.g. one just locked), for a model scoped by
    `branch`: the user's branches and `view_all_branches` come from the cache; guardian grants
    are queried only for a row outside those branches."""
    if not user or not user.is_authenticated or not user.is_active:
        return False
    if sees_all_branches(user) or branch_id in set(user_branch_ids(user)):
        return True
    return pk in set(granted_object_pks(user, model))


def check_branch_allowed(user: User | AnonymousUser | None, branch_id: uuid.UUID | None) -> bool:
    """May `user` act on data of `branch_id`? Used when creating rows for a branch."""
    if sees_all_branches(user):
        return True
    return branch_id in set(user_branch_ids(user))


def require_permission(
    actor: User | None,
    permission: str,
    *,
    branch_id: uuid.UUID | None = None,
    error: type[NotAllowed] = NotAllowed,
    subject: str = "record",
    field: str | None = None,
) -> None:
    """The one permission check every service makes before it changes anything.

    `actor=None` is the system itself (jobs, migrations, the demo seed) and passes. Otherwise the
    actor must be active, hold `permission`, and (when `branch_id` is given) work in that branch.
    `error` is the app's NotAllowed subclass; `subject` names the row in the refusal ("account").
    """
    if actor is None:
        return
    user_authz(actor)  # roles and branches from the shared cache, before has_perm reads them
    if not (actor.is_active and actor.has_perm(permission)):
        raise error(f"You do not have permission to do this ({permission}).")
    if branch_id is not None and not check_branch_allowed(actor, branch_id):
        raise error(f"This {subject} belongs to a branch you do not work in.", field=field)
