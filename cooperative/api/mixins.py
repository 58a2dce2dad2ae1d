from cooperative.permissions import scope_queryset


class BranchScopedQuerysetMixin:
    """DRF views: every queryset is filtered to the caller's branches (404 for the rest)."""

    def get_queryset(self):
        return scope_queryset(super().get_queryset(), self.request.user)
