"""Default API permission: authenticated + Django model permissions (view for reads) + branch scope.

Branch scope itself is enforced in each view's queryset (`BranchScopedQuerysetMixin`), so an
out-of-scope id is simply not found (404).
"""

from rest_framework import permissions

from cooperative.authz import user_authz


class ModelPermissions(permissions.DjangoModelPermissions):
    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": [],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }


class DefaultApiPermission(permissions.BasePermission):
    """Authenticated and active; for views with a queryset, the model permission too."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        user_authz(user)  # the permission set from the shared cache (one round trip, not two queries)
        if getattr(view, "queryset", None) is not None or hasattr(view, "get_queryset"):
            try:
                return ModelPermissions().has_permission(request, view)
            except AssertionError:
                # A generic view without a queryset cannot be checked against a model: refuse
                # rather than let it through; such a view must declare its own permission classes.
                return False
        # A plain APIView has no model; it adds HasPerm.of(...) for what it does.
        return True


class HasPerm(permissions.BasePermission):
    """`HasPerm.of("ledger.post_transaction")` for action endpoints."""

    required: tuple[str, ...] = ()

    @classmethod
    def of(cls, *perms: str):
        return type(f"HasPerm_{'_'.join(p.replace('.', '_') for p in perms)}", (cls,), {"required": perms})

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        user_authz(user)
        return user.has_perms(self.required)
