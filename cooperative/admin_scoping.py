"""The admin half of branch scoping: list, change, delete, history, autocomplete, actions and
related-field choices all go through `get_queryset`, and out-of-scope ids answer 404."""

from __future__ import annotations

from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from .permissions import scope_field_of, scope_queryset


class BranchScopedAdminMixin:
    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django would redirect to the index with "doesn't exist"; we answer 404 for both
            # missing and out-of-scope rows so the two cannot be told apart.
            raise Http404
        return obj

    def _scoped_related(self, db_field, request, kwargs):
        related = db_field.remote_field.model
        if scope_field_of(related) is not None and "queryset" not in kwargs:
            # Keep the related admin's ordering (what Django would use), then scope it.
            base = self.get_field_queryset(kwargs.get("using"), db_field, request)
            if base is None:
                base = related._default_manager.using(kwargs.get("using")).all()
            kwargs["queryset"] = scope_queryset(base, request.user)
        return kwargs

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return super().formfield_for_foreignkey(
            db_field, request, **self._scoped_related(db_field, request, kwargs)
        )

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return super().formfield_for_manytomany(
            db_field, request, **self._scoped_related(db_field, request, kwargs)
        )

    def history_view(self, request, object_id, extra_context=None):
        # simple-history falls back to the historical record when the live row is not in the
        # queryset; that would show another branch's history, so check scope first.
        if not self.get_queryset(request).filter(pk=_safe_pk(self.model, object_id)).exists():
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if not self.get_queryset(request).filter(pk=_safe_pk(self.model, object_id)).exists():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)


def _safe_pk(model, object_id):
    from django.contrib.admin.utils import unquote

    try:
        return model._meta.pk.to_python(unquote(object_id))
    except Exception as exc:  # a malformed id is simply not found
        raise Http404 from exc


class ScopedHistoryAdmin(BranchScopedAdminMixin, SimpleHistoryAdmin):
    """Base class for every domain ModelAdmin: branch scoped, with history."""


class ScopedInlineMixin:
    """Inlines: related-field choices scoped like the parent admin's."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if scope_field_of(related) is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
