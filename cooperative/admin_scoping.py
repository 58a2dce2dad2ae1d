"""The admin half of branch scoping: list, change, delete, history, autocomplete, actions and
related-field choices all go through `get_queryset`, and out-of-scope ids answer 404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, unquote
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import Http404
from simple_history.admin import SimpleHistoryAdmin

from .permissions import scope_field_of, scope_queryset


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A sidebar filter on a branch-scoped relation lists only the rows the user may see
    (Django's default lists every branch, which would leak the other branches' names)."""

    def field_choices(self, field, request, model_admin):
        related = field.remote_field.model
        queryset = scope_queryset(related._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        target = field.remote_field.get_related_field().attname
        return [(getattr(obj, target), str(obj)) for obj in queryset]


def _is_scoped_relation(model, path: str) -> bool:
    try:
        field = get_fields_from_path(model, path)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return False
    return bool(
        field.is_relation
        and field.remote_field is not None
        and scope_field_of(field.remote_field.model) is not None
    )


if TYPE_CHECKING:
    # For the type checker the mixins stand on what they are mixed into.
    class _AdminBase(SimpleHistoryAdmin): ...

    _InlineBase = admin.options.InlineModelAdmin
else:
    _AdminBase = _InlineBase = object


class BranchScopedAdminMixin(_AdminBase):
    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def get_list_filter(self, request):
        return [
            (item, ScopedRelatedFieldListFilter)
            if isinstance(item, str) and _is_scoped_relation(self.model, item)
            else item
            for item in super().get_list_filter(request)
        ]

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except (ValidationError, ValueError, OverflowError) as exc:
            # A hand-edited list URL (?branch=zz, ?created_at__gte=0001-01-01, a year of 11 digits)
            # fails only when the query runs; answer it like Django's own bad lookups (?e=1).
            raise IncorrectLookupParameters(exc) from exc

    def response_action(self, request, queryset):
        # A tampered action POST (`_selected_action=zz`) would fail deep inside the action with a
        # ValidationError; drop ids that are not ids, so Django answers "Items must be selected".
        name = helpers.ACTION_CHECKBOX_NAME
        selected = request.POST.getlist(name)
        valid = [value for value in selected if value and _parses(self.model._meta.pk, value)]
        if len(valid) != len(selected):
            post = request.POST.copy()
            post.setlist(name, valid)
            request.POST = post
        return super().response_action(request, queryset)

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
    try:
        return model._meta.pk.to_python(unquote(object_id))
    except Exception as exc:  # a malformed id is simply not found
        raise Http404 from exc


class ScopedHistoryAdmin(BranchScopedAdminMixin, SimpleHistoryAdmin):
    """Base class for every domain ModelAdmin: branch scoped, with history."""


class ScopedInlineMixin(_InlineBase):
    """Inlines: related-field choices scoped like the parent admin's."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.remote_field.model
        if scope_field_of(related) is not None and "queryset" not in kwargs:
            kwargs["queryset"] = scope_queryset(related._default_manager.all(), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's AutocompleteSelect looks the submitted value up to render it again; a malformed
    id (``member=zz`` on a UUID key) raises ValidationError there and the re-shown form is a 500.
    Drop values the target key cannot parse: the field already reports them as invalid."""

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        return super().optgroups(name, [v for v in value if _parses(target, v)], attr)


def _parses(field, value) -> bool:
    if value in (None, ""):
        return True
    try:
        field.to_python(value)
    except (ValidationError, ValueError, TypeError):
        return False
    return True
