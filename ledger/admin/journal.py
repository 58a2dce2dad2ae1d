"""Journal entries and legs in the admin: read-only, reversible (with a reason)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from approvals.selectors import pending_request_for
from cooperative.admin_confirm import submit_form
from cooperative.admin_scoping import BranchScopedAdminMixin
from cooperative.exceptions import DomainError
from cooperative.money import format_amount
from cooperative.pagination import EstimatedCountPaginator
from cooperative.permissions import scope_queryset, sees_all_branches, user_branch_ids

from .. import approval_actions, services
from ..forms import ReasonForm
from ..models import Account, JournalEntry, Transaction
from ..selectors import entries_with_amounts
from ..services import Pending
from .common import _decide_link, _reason_page, _sent_for_approval
from .filters import AmountRangeFilter, BranchFilter, EntryAmountRangeFilter
from .large_cash import large_cash_urls, may_view_large_cash


class ReadOnlyAdminMixin:
    """Postings are immutable: no add, change or delete for anyone (superusers included)."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("ledger.reverse_transaction")


class LegInline(admin.TabularInline):
    model = Transaction
    fk_name = "entry"
    extra = 0
    can_delete = False
    show_change_link = False
    fields = (
        "account",
        "type",
        "amount",
        "balance_after_shown",
        "description",
        "branch",
        "reconciliation_status",
    )
    readonly_fields = fields

    @admin.display(description="Balance after")
    def balance_after_shown(self, obj: Transaction) -> str:
        # A transfer may credit another branch's account: its balance stays private to that branch.
        return format_amount(obj.balance_after) if getattr(obj, "balance_visible", True) else "—"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("ledger.view_journalentry") or request.user.has_perm(
            "ledger.view_transaction"
        )

    def get_queryset(self, request):
        legs = super().get_queryset(request).select_related("account", "branch").order_by("created_at", "id")
        if sees_all_branches(request.user):
            return legs.annotate(balance_visible=Value(True, output_field=BooleanField()))
        return legs.annotate(
            balance_visible=Case(
                When(account__branch_id__in=user_branch_ids(request.user), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )


def _reverse_entries(request, model_admin, entries, action: str):
    """Shared by the entry and leg lists: ask for a reason (and confirmation), then reverse."""
    form = ReasonForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done = []
        for entry in entries:
            try:
                mirror = services.reverse_entry(
                    entry_id=entry.pk, reason=form.cleaned_data["reason"], actor=request.user
                )
                if isinstance(mirror, Pending):
                    _sent_for_approval(request, mirror, f"Reversal of {entry.reference}")
                    continue
                done.append(f"{entry.reference} → {mirror.reference}")
            except DomainError as exc:
                model_admin.message_user(request, f"{entry.reference}: {exc.message}", messages.ERROR)
        if done:
            model_admin.message_user(request, "Reversed: " + "; ".join(done), messages.SUCCESS)
        return None
    return form


def _entry_rows(entries) -> list[tuple[str, str]]:
    return [
        (
            f"{e.reference} ({e.get_kind_display()}, {e.value_date:%Y-%m-%d})",
            f"{format_amount(getattr(e, 'total_amount', None))} – {e.narration}",
        )
        for e in entries
    ]


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdminMixin, BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "kind",
        "value_date",
        "posted_at",
        "amount",
        "narration",
        "branch",
        "posted_by",
    )
    list_filter = (
        "kind",
        "value_date",
        "posted_at",
        BranchFilter,
        EntryAmountRangeFilter,
        "legs__reconciliation_status",
    )
    search_fields = ("=reference", "=legs__account__account_number", "=legs__reference")
    search_help_text = "The full journal reference, or the full 10-digit number of an account it touched."
    list_select_related = ("branch", "posted_by")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    date_hierarchy = "value_date"
    inlines = (LegInline,)
    actions = ("reverse_selected",)
    fields = (
        "reference",
        "kind",
        "narration",
        "value_date",
        "posted_at",
        "posted_by",
        "branch",
        "amount",
        "reverses",
        "reversed_by_entry",
        "reversal_reason",
        "idempotency_key",
        "metadata",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return entries_with_amounts(super().get_queryset(request))

    @admin.display(description="Amount", ordering="total_amount")
    def amount(self, obj: JournalEntry) -> str:
        return format_amount(getattr(obj, "total_amount", None))

    @admin.display(description="Reversed by")
    def reversed_by_entry(self, obj: JournalEntry):
        mirror = JournalEntry.objects.filter(reverses=obj).first()
        if mirror is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:ledger_journalentry_change", args=[mirror.pk]),
            mirror.reference,
        )

    @admin.action(permissions=["reverse"], description="Reverse selected entries")
    def reverse_selected(self, request, queryset):
        result = _reverse_entries(request, self, queryset, "reverse_selected")
        if result is None:
            return None
        return _reason_page(
            request,
            self,
            queryset,
            action="reverse_selected",
            title="Reverse journal entries",
            button="Yes, reverse",
            form=result,
            rows=_entry_rows(queryset),
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/reverse/",
                self.admin_site.admin_view(self.reverse_view),
                name="{}_{}_reverse".format(*info),
            ),
            *large_cash_urls(self.admin_site),  # before the catch-all <path:object_id>/
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_view_large_cash": may_view_large_cash(request.user)}
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        entry = self.get_object(request, object_id)
        waiting = pending_request_for(subject=entry, action_type=approval_actions.REVERSAL) if entry else None
        can_reverse = (
            entry is not None
            and waiting is None
            and self.has_reverse_permission(request)
            and entry.reverses_id is None
            and not JournalEntry.objects.filter(reverses=entry).exists()
        )
        extra_context = {
            **(extra_context or {}),
            "can_reverse": can_reverse,
            "reversal_waiting_url": _decide_link(waiting) if waiting else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def reverse_view(self, request, object_id):
        entry = self.get_object(request, object_id)  # 404 when missing or out of scope
        if not self.has_reverse_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:ledger_journalentry_change", args=[entry.pk])
        form = ReasonForm(request.POST if request.method == "POST" else None)

        def reverse_it(data: dict):
            return services.reverse_entry(entry_id=entry.pk, reason=data["reason"], actor=request.user)

        def done(mirror):
            if isinstance(mirror, Pending):
                _sent_for_approval(request, mirror, f"Reversal of {entry.reference}")
                return HttpResponseRedirect(change_url)
            messages.success(request, f"Entry {entry.reference} reversed by journal {mirror.reference}.")
            return HttpResponseRedirect(reverse("admin:ledger_journalentry_change", args=[mirror.pk]))

        if form.is_bound:
            outcome = submit_form(form, reverse_it, done=done)
            if outcome.response is not None:
                return outcome.response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": entry,
            "title": f"Reverse {entry.reference}",
            "entry": entry,
            "legs": entry.legs.select_related("account").order_by("created_at", "id"),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/ledger/journalentry/reverse.html", context)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, BranchScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "reference",
        "created_at",
        "value_date",
        "account",
        "type",
        "amount",
        "balance_after",
        "description",
        "branch",
        "reconciliation_status",
    )
    list_filter = (
        "type",
        "entry__kind",
        "value_date",
        "created_at",
        BranchFilter,
        AmountRangeFilter,
        "reconciliation_status",
    )
    search_fields = ("=reference", "=account__account_number")
    search_help_text = "The full reference, or the full 10-digit account number."
    list_select_related = ("account", "branch")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    actions = ("reverse_selected",)
    fields = (
        "reference",
        "entry",
        "account",
        "type",
        "amount",
        "balance_after",
        "description",
        "value_date",
        "created_at",
        "created_by",
        "branch",
        "status",
        "reconciliation_status",
        "reconciled_at",
        "reconciled_by",
        "metadata",
    )
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        # Exact lookups the indexes serve (Django's "=field" search compares UPPER() of both sides,
        # which no index does, so it read all 2 million legs): ten digits are an account number,
        # anything else a reference.
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.isdigit() and len(term) == 10:
            accounts = Account.objects.filter(account_number=term).values("pk")
            return queryset.filter(account_id__in=accounts), False
        return queryset.filter(reference=term.upper()), False

    @admin.action(permissions=["reverse"], description="Reverse the entries of the selected legs")
    def reverse_selected(self, request, queryset):
        entries = entries_with_amounts(
            scope_queryset(JournalEntry.objects.all(), request.user).filter(
                pk__in=queryset.values("entry_id")
            )
        )
        result = _reverse_entries(request, self, entries, "reverse_selected")
        if result is None:
            return None
        return _reason_page(
            request,
            self,
            queryset,
            action="reverse_selected",
            title="Reverse journal entries",
            button="Yes, reverse",
            form=result,
            rows=_entry_rows(entries),
        )
