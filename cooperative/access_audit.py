"""An AuditLog row (ACCESS_CHANGED) for every change of who may do what: a user added to or removed
from a group, a group's permissions changed, a branch or an individual permission (such as
`cooperative.view_all_branches`) granted or withdrawn, from whichever side of the many-to-many,
in the admin, a command or the shell.

The row names the actor and the client IP (the request being served, `request_context`; none
outside a request: the system), the target (the user or the group) and exactly what was added or
removed, by name. Permissions and branches are written as `app.codename` and branch codes.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed

from .audit import record_event
from .models import AuditLog, Branch, User
from .request_context import current_request

_PENDING_CLEAR = "_coop_access_cleared"


def _names(model, pks) -> list[str]:
    rows = model.objects.filter(pk__in=list(pks))
    if model is Permission:
        return sorted(f"{a}.{c}" for a, c in rows.values_list("content_type__app_label", "codename"))
    if model is Branch:
        return sorted(rows.values_list("code", flat=True))
    if model is User:
        return sorted(rows.values_list("email", flat=True))
    return sorted(rows.values_list("name", flat=True))


def _describe(instance) -> str:
    if isinstance(instance, Permission):
        return f"{instance.content_type.app_label}.{instance.codename}"
    if isinstance(instance, Branch):
        return instance.code
    if isinstance(instance, User):
        return instance.email
    return str(instance)


def _record(*, change: str, instance, model, pks, added: bool) -> None:
    names = _names(model, pks)
    if not names:
        return
    request = current_request()
    record_event(
        AuditLog.Event.ACCESS_CHANGED,
        request=request,
        detail={
            "change": change,
            "target_type": instance._meta.model_name,
            "target": _describe(instance),
            "added" if added else "removed": names,
            "actor": None if request is None else getattr(getattr(request, "user", None), "email", None),
        },
    )


def _receiver(change: str):
    def receiver(sender, instance, action, reverse, model, pk_set, **kwargs) -> None:
        if action == "pre_clear":  # the rows about to go are listed only before they go
            rows = sender.objects.filter(**{instance._meta.model_name: instance.pk})
            instance.__dict__[_PENDING_CLEAR] = set(
                rows.values_list(f"{model._meta.model_name}_id", flat=True)
            )
            return
        if action == "post_clear":
            pks = instance.__dict__.pop(_PENDING_CLEAR, set())
            _record(change=change, instance=instance, model=model, pks=pks, added=False)
        elif action in ("post_add", "post_remove") and pk_set:
            _record(change=change, instance=instance, model=model, pks=pk_set, added=action == "post_add")

    receiver.__name__ = f"audit_{change}"
    return receiver


for _through, _change in (
    (User.groups.through, "groups"),
    (User.user_permissions.through, "user_permissions"),
    (User.branches.through, "branches"),
    (Group.permissions.through, "group_permissions"),
):
    m2m_changed.connect(
        _receiver(_change), sender=_through, dispatch_uid=f"access-audit-{_change}", weak=False
    )
