"""Holds and posting requests in the admin: read-only; holds released by an action, requests
decided on the approval request's page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from approvals.models import ApprovalRequest
from cooperative.admin_scoping import ScopedHistoryAdmin
from cooperative.exceptions import DomainError
from cooperative.money import format_naira

from .. import services
from ..models import Hold, PostingRequest
from .common import _decide_link
from .filters import BranchFilter, HoldBranchFilter


@admin.register(Hold)
class HoldAdmin(ScopedHistoryAdmin):
    list_display = ("account", "amount", "original_amount", "reason", "reference", "status", "created_at")
    list_filter = ("status", HoldBranchFilter)
    search_fields = ("=account__account_number", "=reference")
    search_help_text = "The full 10-digit account number, or the hold's reference (e.g. a loan number)."
    list_select_related = ("account",)
    show_full_result_count = False
    actions = ("release_selected",)
    fields = (
        "account",
        "amount",
        "original_amount",
        "reason",
        "reference",
        "status",
        "released_at",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # holds are placed by the services (e.g. guarantor pledges)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_release_permission(self, request) -> bool:
        return request.user.has_perm("ledger.manage_holds")

    @admin.action(permissions=["release"], description="Release selected holds")
    def release_selected(self, request, queryset):
        released = 0
        for hold in queryset.filter(status=Hold.Status.ACTIVE):
            try:
                services.release_hold(hold_id=hold.pk, actor=request.user)
                released += 1
            except DomainError as exc:
                self.message_user(request, f"{hold}: {exc.message}", messages.ERROR)
        self.message_user(request, f"Released {released} hold(s).", messages.SUCCESS)


@admin.register(PostingRequest)
class PostingRequestAdmin(ScopedHistoryAdmin):
    """Withdrawals and transfers waiting for (or decided by) approval: read-only, decided on the
    approval request's page."""

    list_display = (
        "created_at",
        "kind",
        "account",
        "to_account",
        "amount",
        "status",
        "requested_by",
        "branch",
    )
    list_filter = ("status", "kind", BranchFilter)
    search_fields = ("=account__account_number", "=to_account__account_number")
    search_help_text = "The full 10-digit number of the paying or receiving account."
    list_select_related = ("account", "to_account", "requested_by", "branch")
    show_full_result_count = False
    fields = (
        "kind",
        "account",
        "to_account",
        "amount",
        "channel",
        "description",
        "status",
        "requested_by",
        "created_at",
        "completed_at",
        "hold",
        "entry",
        "approval",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # asked for through the Withdraw / Transfer forms and the API

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        pay = path(
            "<path:object_id>/pay/",
            self.admin_site.admin_view(self.pay_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_pay",
        )
        return [pay, *super().get_urls()]

    def pay_view(self, request, object_id):
        """One click from the dashboard's queue: pay an approved cash withdrawal out of the
        clicking teller's till (POST only; a second click posts nothing more)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            entry = services.pay_approved_withdrawal(posting_request_id=object_id, actor=request.user)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            amount = entry.legs.all()[0].amount
            self.message_user(
                request, f"Paid out {format_naira(amount)} ({entry.reference}).", messages.SUCCESS
            )
        return HttpResponseRedirect(reverse("admin:index"))

    @admin.display(description="Approval request")
    def approval(self, obj: PostingRequest):
        found = ApprovalRequest.objects.filter(object_id=str(obj.pk)).order_by("created_at").first()
        if found is None:
            return "—"
        return format_html('<a href="{}">{}</a>', _decide_link(found), found.get_status_display())
