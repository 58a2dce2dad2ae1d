"""The Member screens tellers and managers work in all day.

Every change goes through `members.services`: the add/change form checks shape, saving calls the
service, and a refusal (a duplicate phone, a malformed BVN) comes back as a form error on the right
field with nothing written (never a 500); the actions (KYC, status, exit) ask for a reason on a
confirmation page.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from cooperative.admin_scoping import ScopedHistoryAdmin, ScopedInlineMixin
from cooperative.exceptions import DomainError
from cooperative.models import Branch
from cooperative.pagination import EstimatedCountPaginator
from cooperative.permissions import scope_queryset
from ledger.models import Account

from . import services
from .models import Member
from .selectors import search_condition

PROFILE_FIELDS = (
    "first_name",
    "last_name",
    "phone",
    "email",
    "date_of_birth",
    "gender",
    "occupation",
    "employer",
    "address",
    "city",
    "state",
    "country",
    "next_of_kin_name",
    "next_of_kin_relationship",
    "next_of_kin_phone",
)
IDENTITY_INPUT_HELP = "11 digits. Stored encrypted; shown masked afterwards."


class MemberAdminForm(forms.ModelForm):
    """Checks shape only; MemberAdmin.save_model registers or updates the member through the service.

    A DomainError from the service at save comes back here as `refusal` (see
    MemberAdmin.changeform_view) and shows on the field it names."""

    phone = forms.CharField(max_length=32, help_text="Any format: 0803 123 4567, +234 803 123 4567.")
    next_of_kin_phone = forms.CharField(max_length=32, required=False)
    bvn = forms.CharField(label="BVN", max_length=20, required=False, help_text=IDENTITY_INPUT_HELP)
    nin = forms.CharField(label="NIN", max_length=20, required=False, help_text=IDENTITY_INPUT_HELP)

    request = None  # set by MemberAdmin.get_form
    refusal: DomainError | None = None  # set by MemberAdmin.get_form after the service refused

    class Meta:
        model = Member
        fields = (*PROFILE_FIELDS, "branch", "join_date")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            for kind in ("bvn", "nin"):
                masked = getattr(self.instance, f"{kind}_masked")
                if masked and kind in self.fields:
                    self.fields[kind].help_text = f"On file: {masked}. Leave empty to keep it."
                    self.fields[kind].widget.attrs["autocomplete"] = "off"

    def clean(self):
        cleaned = super().clean()
        if self.refusal is not None:
            field = self.refusal.field if self.refusal.field in self.fields else None
            self.add_error(field, self.refusal.message)
        return cleaned

    def _post_clean(self):
        # No ModelForm model validation: the service normalises (phone to E.164, email to lower
        # case) and then checks uniqueness against what will actually be stored.
        pass

    def call_service(self) -> Member:
        """Register (add form) or update (change form) the member from the cleaned data."""
        data = self.cleaned_data
        if self.instance._state.adding:
            values = {k: v for k, v in data.items() if k in (*PROFILE_FIELDS, "bvn", "nin") and v is not None}
            return services.register_member(
                actor=self.request.user, branch=data["branch"], join_date=data.get("join_date"), **values
            )
        changes = {
            name: data[name]
            for name in self.changed_data
            if name in services.UPDATABLE_FIELDS and not (name in ("bvn", "nin") and not data[name])
        }
        return services.update_member(actor=self.request.user, member_id=self.instance.pk, **changes)


class _SaveRefused(Exception):
    """The service refused the member at save: carries its DomainError back to changeform_view."""

    def __init__(self, error: DomainError):
        super().__init__(error.message)
        self.error = error


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class StatusForm(ReasonForm):
    status = forms.ChoiceField(choices=[(s.value, s.label) for s in services.SETTABLE_STATUSES])
    field_order = ("status", "reason")


class AccountInline(ScopedInlineMixin, admin.TabularInline):
    """The member's accounts, read-only: opening and moving money are ledger services."""

    model = Account
    fk_name = "member"
    fields = ("account_number", "type", "balance", "held_amount", "currency", "status")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    ordering = ("account_number",)
    verbose_name_plural = "Accounts"

    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ScopedBranchFilter(admin.SimpleListFilter):
    """Branch filter listing only the branches the user may see."""

    title = "branch"
    parameter_name = "branch__id__exact"

    def lookups(self, request, model_admin):
        return [(str(b.pk), str(b)) for b in scope_queryset(Branch.objects.order_by("code"), request.user)]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(branch_id=Branch._meta.pk.to_python(value))
        except Exception:  # a malformed id filters to nothing rather than erroring
            return queryset.none()


@admin.register(Member)
class MemberAdmin(ScopedHistoryAdmin):
    form = MemberAdminForm
    list_display = ("member_number", "full_name", "phone", "branch", "status", "kyc_status", "join_date")
    list_display_links = ("member_number", "full_name")
    list_filter = (
        "status",
        "kyc_status",
        ScopedBranchFilter,
        "gender",
        ("join_date", admin.DateFieldListFilter),
    )
    list_select_related = ("branch",)
    search_fields = ("member_number", "first_name", "last_name", "phone", "email")  # autocomplete; see below
    search_help_text = "Member number, any part of the name, phone in any format, BVN, NIN or email."
    show_full_result_count = False
    paginator = EstimatedCountPaginator  # no COUNT(*) over 100,000 members
    list_per_page = 50
    ordering = ("member_number",)
    inlines = (AccountInline,)
    actions = ("verify_kyc_selected", "reject_kyc_selected", "change_status_selected", "exit_selected")

    add_fieldsets = (
        (None, {"fields": ("branch", "first_name", "last_name", "phone", "email", "join_date")}),
        ("Identity", {"fields": ("date_of_birth", "gender", "bvn", "nin")}),
        ("Work and address", {"fields": ("occupation", "employer", "address", "city", "state", "country")}),
        ("Next of kin", {"fields": ("next_of_kin_name", "next_of_kin_relationship", "next_of_kin_phone")}),
    )
    change_fieldsets = (
        (
            None,
            {"fields": ("member_number", "branch", "first_name", "last_name", "phone", "email", "join_date")},
        ),
        ("Identity", {"fields": ("date_of_birth", "gender", "bvn_masked", "bvn", "nin_masked", "nin")}),
        ("Status", {"fields": ("status", "status_reason", "status_changed_at")}),
        (
            "KYC",
            {
                "fields": (
                    "kyc_status",
                    "kyc_reviewed_by",
                    "kyc_reviewed_at",
                    "kyc_rejection_reason",
                    "created_by",
                )
            },
        ),
        ("Work and address", {"fields": ("occupation", "employer", "address", "city", "state", "country")}),
        ("Next of kin", {"fields": ("next_of_kin_name", "next_of_kin_relationship", "next_of_kin_phone")}),
    )
    change_readonly_fields = (
        "member_number",
        "branch",
        "join_date",
        "bvn_masked",
        "nin_masked",
        "status",
        "status_reason",
        "status_changed_at",
        "kyc_status",
        "kyc_reviewed_by",
        "kyc_reviewed_at",
        "kyc_rejection_reason",
        "created_by",
    )

    # --- form -------------------------------------------------------------------------------------
    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        if self._read_only(request, obj):
            # Nothing to type in: drop the BVN/NIN inputs, keep the masked values.
            return tuple(
                (name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in ("bvn", "nin"))})
                for name, opts in self.change_fieldsets
            )
        return self.change_fieldsets

    def _read_only(self, request, obj) -> bool:
        return obj.status == Member.Status.EXITED or not self.has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        if self._read_only(request, obj):
            return self.change_readonly_fields + PROFILE_FIELDS
        return self.change_readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, "_member_refusal", None)
        return type(form.__name__, (form,), {"request": request, "refusal": refusal})

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except _SaveRefused as refused:
            # The service said no in save_model: the view's transaction is rolled back (nothing is
            # written, not even the admin log), and the same form is shown again with the reason.
            request._member_refusal = refused.error
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_inline_instances(self, request, obj=None):
        return [] if obj is None else super().get_inline_instances(request, obj)

    def save_model(self, request, obj, form, change):
        """Register or update the member through the service; `obj` becomes the member it stored
        (the admin then logs it and redirects to it). A refusal goes back to the form."""
        try:
            member = form.call_service()
        except DomainError as exc:
            raise _SaveRefused(exc) from exc
        obj.__dict__.update(member.__dict__)
        form.instance = obj

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # members are exited, never deleted

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj: Member) -> str:
        return obj.full_name

    @admin.display(description="BVN")
    def bvn_masked(self, obj: Member) -> str:
        return obj.bvn_masked or "—"

    @admin.display(description="NIN")
    def nin_masked(self, obj: Member) -> str:
        return obj.nin_masked or "—"

    # --- search -----------------------------------------------------------------------------------
    def get_search_results(self, request, queryset, search_term):
        condition = search_condition(search_term)
        if condition is None:
            return queryset, False
        return queryset.filter(condition), False

    # --- actions ----------------------------------------------------------------------------------
    def has_verify_kyc_permission(self, request) -> bool:
        return request.user.has_perm("members.verify_kyc")

    def has_exit_member_permission(self, request) -> bool:
        return request.user.has_perm("members.exit_member")

    def _apply(self, request, queryset, verb: str, call) -> None:
        done = 0
        for member in queryset.order_by("member_number"):
            try:
                call(member)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{member.member_number}: {exc}", messages.ERROR)
        if done:
            self.message_user(
                request,
                ngettext("%(n)d member %(verb)s.", "%(n)d members %(verb)s.", done)
                % {"n": done, "verb": verb},
                messages.SUCCESS,
            )

    def _confirm(self, request, queryset, *, form_class, title: str, action: str, button: str, apply):
        """Confirmation page with a reason form (delete_selected's pattern); acts on `post`."""
        form = form_class(request.POST if request.POST.get("post") else None)
        if request.POST.get("post") and form.is_valid():
            apply(form.cleaned_data)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "members": queryset.order_by("member_number")[:200],
            "count": queryset.count(),
            "form": form,
            "action": action,
            "button": button,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "admin/members/member/action_with_reason.html", context)

    @admin.action(permissions=["verify_kyc"], description="Approve KYC of selected members")
    def verify_kyc_selected(self, request, queryset):
        self._apply(
            request,
            queryset,
            "verified",
            lambda m: services.verify_kyc(actor=request.user, member_id=m.pk),
        )

    @admin.action(permissions=["verify_kyc"], description="Reject KYC of selected members…")
    def reject_kyc_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            form_class=ReasonForm,
            title="Reject KYC",
            action="reject_kyc_selected",
            button="Reject KYC",
            apply=lambda data: self._apply(
                request,
                queryset,
                "rejected",
                lambda m: services.reject_kyc(actor=request.user, member_id=m.pk, reason=data["reason"]),
            ),
        )

    @admin.action(permissions=["change"], description="Change status of selected members…")
    def change_status_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            form_class=StatusForm,
            title="Change member status",
            action="change_status_selected",
            button="Change status",
            apply=lambda data: self._apply(
                request,
                queryset,
                "updated",
                lambda m: services.change_member_status(
                    actor=request.user, member_id=m.pk, status=data["status"], reason=data["reason"]
                ),
            ),
        )

    @admin.action(permissions=["exit_member"], description="Exit selected members from the cooperative…")
    def exit_selected(self, request, queryset):
        return self._confirm(
            request,
            queryset,
            form_class=ReasonForm,
            title="Exit members",
            action="exit_selected",
            button="Exit members",
            apply=lambda data: self._apply(
                request,
                queryset,
                "exited",
                lambda m: services.exit_member(actor=request.user, member_id=m.pk, reason=data["reason"]),
            ),
        )
