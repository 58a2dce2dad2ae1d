from typing import TYPE_CHECKING

from cooperative.permissions import scope_queryset

if TYPE_CHECKING:
    from rest_framework.generics import GenericAPIView

    _ViewBase = GenericAPIView
else:  # a mixin: the view it is mixed into supplies get_queryset and request
    _ViewBase = object


class BranchScopedQuerysetMixin(_ViewBase):
    """DRF views: every queryset is filtered to the caller's branches (404 for the rest)."""

    def get_queryset(self):
        return scope_queryset(super().get_queryset(), self.request.user)
