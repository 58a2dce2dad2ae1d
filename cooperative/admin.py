from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied
from rest_framework_simplejwt.token_blacklist import admin as token_blacklist_admin
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from simple_history.admin import SimpleHistoryAdmin

from .admin_scoping import BranchScopedAdminMixin, ScopedHistoryAdmin
from .models import AuditLog, Branch, User
from .permissions import MANAGE_ROLES, scope_queryset


@admin.register(Branch)
class BranchAdmin(ScopedHistoryAdmin):
    list_display = ("code", "name", "city", "state", "status")
    list_filter = ("status", "state")
    search_fields = ("code", "name", "city")
    ordering = ("code",)


class CoopUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name")


class CoopUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


ACCESS_FIELDS = ("groups", "branches", "user_permissions", "is_superuser", "is_staff", "is_active", "status")
ROLE_FIELDS = {"groups", "branches", "user_permissions"}


def locked_access_fields(editor, target) -> set[str]:
    """The access fields `editor` may not change on `target` (None: a new user).

    Superuser status: superusers only. Roles (groups), branches and individual permissions:
    superusers and holders of `cooperative.manage_roles`. Nobody changes their own access at all,
    superusers included: a second person does it, and the audit log names them."""
    locked = set()
    if not editor.is_superuser:
        locked.add("is_superuser")
        if not editor.has_perm(MANAGE_ROLES):
            locked |= ROLE_FIELDS
    if target is not None and target.pk == editor.pk:
        locked |= set(ACCESS_FIELDS)
    return locked


@admin.register(User)
class UserAdmin(BranchScopedAdminMixin, SimpleHistoryAdmin, DjangoUserAdmin):
    form = CoopUserChangeForm
    add_form = CoopUserCreationForm
    list_display = ("email", "first_name", "last_name", "status", "is_staff", "roles")
    list_filter = ("status", "is_staff", "groups", "branches")
    search_fields = ("email", "first_name", "last_name", "phone")
    ordering = ("email",)
    filter_horizontal = ("branches", "groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "phone", "status")}),
        (
            "Access",
            {"fields": ("branches", "groups", "is_active", "is_staff", "is_superuser", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {"classes": ("wide",), "fields": ("email", "first_name", "last_name", "password1", "password2")},
        ),
    )
    readonly_fields = ("last_login", "date_joined")

    @admin.display(description="Roles")
    def roles(self, obj):
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields + [name for name in ACCESS_FIELDS if name in locked_access_fields(request.user, obj)]

    def save_model(self, request, obj, form, change):
        forbidden = set(form.changed_data) & locked_access_fields(request.user, obj if change else None)
        if forbidden:  # read-only on the form already; a forged POST ends here
            raise PermissionDenied(f"You may not change {', '.join(sorted(forbidden))} here.")
        if change:
            # The branches widget offers only the editor's branches; remember the others the person
            # belongs to so that saving the form does not silently remove them (see save_related).
            visible = scope_queryset(obj.branches.model.objects.all(), request.user).values("pk")
            form.hidden_branch_ids = list(obj.branches.exclude(pk__in=visible).values_list("pk", flat=True))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        hidden = getattr(form, "hidden_branch_ids", None)
        if hidden:
            form.instance.branches.add(*hidden)


@admin.register(AuditLog)
class AuditLogAdmin(BranchScopedAdminMixin, admin.ModelAdmin):
    """Read-only for everyone, superusers included: the log is append-only."""

    list_display = ("created_at", "event", "username", "user", "branch", "ip_address", "path")
    list_filter = ("event", "branch", ("created_at", admin.DateFieldListFilter))
    search_fields = ("username", "ip_address", "request_id", "path")
    search_help_text = "Email typed at sign-in, IP address, request id (X-Request-ID) or path."
    date_hierarchy = "created_at"
    list_select_related = ("user", "branch")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("cooperative.view_audit_log") or super().has_view_permission(
            request, obj
        )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OutstandingTokenAdmin(token_blacklist_admin.OutstandingTokenAdmin):
    """Issued refresh tokens: who holds one and until when, never the token itself (a bearer
    credential: anyone reading it, AUDITOR included, could act as its holder)."""

    exclude = ("token",)
    search_fields = ("user__email", "jti")
    search_help_text = "The holder's email or the token id (jti)."

    def get_readonly_fields(self, request, obj=None):
        return [name for name in super().get_readonly_fields(request, obj) if name != "token"]


if admin.site.is_registered(OutstandingToken):
    admin.site.unregister(OutstandingToken)
admin.site.register(OutstandingToken, OutstandingTokenAdmin)
