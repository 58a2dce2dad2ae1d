"""Accounts in the admin: list, page (recent movements, buttons), opening, freeze/unfreeze/close."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from cooperative.admin_confirm import submit_form
from cooperative.admin_scoping import SafeAutocompleteSelect, ScopedHistoryAdmin
from cooperative.exceptions import DomainError
from cooperative.money import format_amount
from cooperative.pagination import EstimatedCountPaginator
from cooperative.permissions import scope_queryset

from .. import services
from ..forms import CloseAccountForm, OpenAccountForm, ReasonForm
from ..models import Account, AccountType, Side
from ..services import DEPOSIT_ACCOUNT_TYPES, Pending
from ..workflow import ACCOUNT_MACHINE
from .common import _reason_page, _sent_for_approval
from .filters import BranchFilter
from .money_actions import MEMBER_MONEY_ACTIONS, MONEY_ACTIONS, AccountMoneyActionsMixin


@admin.register(Account)
class AccountAdmin(AccountMoneyActionsMixin, ScopedHistoryAdmin):
    list_display = ("account_number", "name", "member", "type", "balance", "held_amount", "status", "branch")
    list_filter = ("type", "status", BranchFilter)
    search_fields = ("^account_number", "^member__member_number", "member__first_name", "member__last_name")
    search_help_text = (
        "Account number or member number (their first digits), or the member's first or last name."
    )
    list_select_related = ("member", "branch")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    list_per_page = 50
    actions = ("freeze_selected", "unfreeze_selected", "close_selected")
    EDITABLE_FIELDS = ("name", "minimum_balance", "daily_withdrawal_limit")
    fieldsets = (
        (None, {"fields": ("account_number", "name", "member", "type", "till_teller", "branch", "currency")}),
        ("Status", {"fields": ("status", "status_reason", "opened_at", "closed_at")}),
        ("Money", {"fields": ("balance", "held_amount", "available")}),
        ("Product rules", {"fields": ("minimum_balance", "daily_withdrawal_limit")}),
        ("Recent movements", {"fields": ("recent_movements",)}),
        ("Record", {"classes": ("collapse",), "fields": ("gl_code", "normal_balance", "created_by")}),
    )
    readonly_fields = (
        "account_number",
        "member",
        "type",
        "till_teller",
        "branch",
        "currency",
        "status",
        "status_reason",
        "opened_at",
        "closed_at",
        "balance",
        "held_amount",
        "available",
        "recent_movements",
        "gl_code",
        "normal_balance",
        "created_by",
    )

    # --- permissions ---

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # accounts are closed, never deleted

    # The status actions are offered to whom ACCOUNT_MACHINE gives the step's permission (the
    # services check the state, the branch and the guards account by account).
    def has_freeze_permission(self, request) -> bool:
        return request.user.has_perm(ACCOUNT_MACHINE["freeze"].permission)

    def has_unfreeze_permission(self, request) -> bool:
        return request.user.has_perm(ACCOUNT_MACHINE["unfreeze"].permission)

    def has_close_permission(self, request) -> bool:
        return request.user.has_perm(ACCOUNT_MACHINE["close"].permission)

    # --- display ---

    @admin.display(description="Available")
    def available(self, obj: Account) -> str:
        return format_amount(obj.available_balance) if obj.pk else ""

    @admin.display(description="Last 20 movements")
    def recent_movements(self, obj: Account):
        if not obj.pk:
            return ""
        legs = list(obj.transactions.select_related("entry").order_by("-created_at", "-id")[:20])
        if not legs:
            return "No movements yet."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td>{}</td><td><a href="{}">{}</a></td><td>{}</td>'
            '<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>',
            (
                (
                    leg.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
                    leg.value_date.isoformat(),
                    reverse("admin:ledger_journalentry_change", args=[leg.entry_id]),
                    leg.reference,
                    leg.description,
                    format_amount(leg.amount) if leg.type == Side.DEBIT else "",
                    format_amount(leg.amount) if leg.type == Side.CREDIT else "",
                    format_amount(leg.balance_after),
                )
                for leg in legs
            ),
        )
        return format_html(
            '<table class="ledger-movements"><thead><tr><th>Posted</th><th>Value date</th>'
            "<th>Reference</th><th>Description</th><th>Debit</th><th>Credit</th><th>Balance</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    # --- change: only product rules, never money ---

    def save_model(self, request, obj, form, change):
        if not change:
            raise PermissionDenied  # accounts are opened through open_account (add_view)
        changes = {
            name: form.cleaned_data[name] for name in form.changed_data if name in self.EDITABLE_FIELDS
        }
        if changes:
            # The service locks the row and writes only these fields: the balance read with this form
            # is never written back.
            services.update_account_settings(account_id=obj.pk, changes=changes, actor=request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        account = self._account_or_404(request, object_id)
        buttons = []
        if account.type in DEPOSIT_ACCOUNT_TYPES and account.status == Account.Status.ACTIVE:
            for name in MEMBER_MONEY_ACTIONS:
                action = MONEY_ACTIONS[name]
                if request.user.has_perm(action.permission):
                    label = "Withdraw" if action.name == "withdraw" else action.label
                    buttons.append(
                        {"name": action.name, "label": label, "url": self._url(action.name, account)}
                    )
        if (
            account.type == AccountType.TELLER_CASH
            and account.status == Account.Status.ACTIVE
            and request.user.has_perm("ledger.manage_tills")
        ):
            buttons.append({"name": "till", "label": "Move cash", "url": self._url("till", account)})
        if account.type == AccountType.TELLER_CASH:
            tills_url = reverse("admin:ledger_account_tills")
            buttons.append(
                {
                    "name": "tills",
                    "label": "Tills of the day",
                    "url": f"{tills_url}?branch={account.branch_id}",
                }
            )
        if request.user.has_perm("ledger.export_statement"):
            buttons.append(
                {"name": "statement", "label": "Statement", "url": self._url("statement", account)}
            )
        extra_context = {**(extra_context or {}), "ledger_buttons": buttons}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- URLs ---

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        wrap = self.admin_site.admin_view
        return [
            path("tills/", wrap(self.tills_view), name="{}_{}_tills".format(*info)),
            path(
                "<path:object_id>/deposit/",
                wrap(self.money_view),
                {"action": "deposit"},
                name="{}_{}_deposit".format(*info),
            ),
            path(
                "<path:object_id>/withdraw/",
                wrap(self.money_view),
                {"action": "withdraw"},
                name="{}_{}_withdraw".format(*info),
            ),
            path(
                "<path:object_id>/transfer/",
                wrap(self.money_view),
                {"action": "transfer"},
                name="{}_{}_transfer".format(*info),
            ),
            path(
                "<path:object_id>/move-cash/",
                wrap(self.money_view),
                {"action": "till"},
                name="{}_{}_till".format(*info),
            ),
            path(
                "<path:object_id>/statement/",
                wrap(self.statement_view),
                name="{}_{}_statement".format(*info),
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, account: Account) -> str:
        return reverse(f"admin:ledger_account_{name}", args=[account.pk])

    def _account_or_404(self, request, object_id) -> Account:
        # get_object answers 404 for missing, malformed and out-of-scope ids alike.
        account = self.get_object(request, object_id)
        if account is None or not self.has_view_or_change_permission(request, account):
            raise Http404
        return account

    def _context(self, request, account: Account, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": account,
            "account": account,
            "title": title,
            "change_url": reverse("admin:ledger_account_change", args=[account.pk]),
            "form_url": self._url(extra["action"].name, account) if "action" in extra else "",
            **extra,
        }

    # --- open account (the add view) ---

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        member_field = Account._meta.get_field("member")
        member_model = member_field.remote_field.model
        members = scope_queryset(member_model._default_manager.exclude(status="EXITED"), request.user)
        widget = None
        member_admin = self.admin_site._registry.get(member_model)
        if member_admin is not None and member_admin.get_search_fields(request):
            widget = SafeAutocompleteSelect(member_field, self.admin_site)
        form = OpenAccountForm(
            request.POST if request.method == "POST" else None, members=members, member_widget=widget
        )

        def open_it(data: dict) -> Account:
            return services.open_account(
                member=data["member"],
                account_type=data["account_type"],
                actor=request.user,
                minimum_balance=data["minimum_balance"],
                daily_withdrawal_limit=data["daily_withdrawal_limit"],
            )

        def done(account: Account):
            messages.success(request, f"Opened {account.get_type_display().lower()} account {account}.")
            return HttpResponseRedirect(reverse("admin:ledger_account_change", args=[account.pk]))

        if request.method == "POST":
            outcome = submit_form(form, open_it, done=done, fields={"type": "account_type"})
            if outcome.response is not None:
                return outcome.response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Open an account",
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/ledger/account/open_account.html", context)

    # --- freeze / unfreeze ---

    @admin.action(permissions=["freeze"], description="Freeze selected accounts")
    def freeze_selected(self, request, queryset):
        return self._status_action(request, queryset, "freeze_selected", "Freeze", services.freeze_account)

    @admin.action(permissions=["unfreeze"], description="Unfreeze selected accounts")
    def unfreeze_selected(self, request, queryset):
        return self._status_action(
            request, queryset, "unfreeze_selected", "Unfreeze", services.unfreeze_account
        )

    @admin.action(permissions=["close"], description="Close selected accounts…")
    def close_selected(self, request, queryset):
        """Close member accounts; one with money needs an account to sweep it to (one entry)."""
        form = CloseAccountForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["sweep_to_account_number"]
            done = 0
            for account in queryset.order_by("account_number"):
                if account.member_id is None:
                    self.message_user(
                        request,
                        f"{account.account_number}: internal ledger accounts are not closed here.",
                        messages.ERROR,
                    )
                    continue
                try:
                    # An account that still holds money is swept and closed once a manager approves.
                    result = services.close_account(
                        account_id=account.pk,
                        reason=form.cleaned_data["reason"],
                        actor=request.user,
                        sweep_to_account_id=target.pk if target is not None else None,
                    )
                    if isinstance(result, Pending):
                        _sent_for_approval(request, result, f"Closure of {account.account_number}")
                    else:
                        done += 1
                except DomainError as exc:
                    self.message_user(request, f"{account.account_number}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"Closed {done} account(s).", messages.SUCCESS)
            return None
        rows = [(str(a), f"{a.get_status_display()}, balance {format_amount(a.balance)}") for a in queryset]
        return _reason_page(
            request,
            self,
            queryset,
            action="close_selected",
            title="Close accounts",
            button="Close",
            form=form,
            rows=rows,
        )

    def _status_action(self, request, queryset, action, verb, service):
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            done = 0
            for account in queryset:
                try:
                    service(account_id=account.pk, reason=form.cleaned_data["reason"], actor=request.user)
                    done += 1
                except DomainError as exc:
                    self.message_user(request, f"{account.account_number}: {exc.message}", messages.ERROR)
            if done:
                self.message_user(request, f"{verb} done for {done} account(s).", messages.SUCCESS)
            return None
        rows = [(str(a), f"{a.get_status_display()}, balance {format_amount(a.balance)}") for a in queryset]
        return _reason_page(
            request,
            self,
            queryset,
            action=action,
            title=f"{verb} accounts",
            button=verb,
            form=form,
            rows=rows,
        )
