"""The ledger in the admin: accounts (with counter operations behind a confirmation step), journal
entries and legs (read-only, reversible), holds.

Every change goes through `ledger.services`; the admin only collects input, asks for confirmation
and turns domain errors into form errors.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Case, Q, Sum, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from approvals.models import ApprovalRequest
from approvals.selectors import approval_required, pending_request_for
from cooperative.admin_scoping import BranchScopedAdminMixin, SafeAutocompleteSelect, ScopedHistoryAdmin
from cooperative.audit import record_event
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog, Branch
from cooperative.money import amount_in_words
from cooperative.pagination import EstimatedCountPaginator
from cooperative.permissions import scope_queryset, sees_all_branches, user_branch_ids

from . import approval_actions, services
from .approval_actions import Pending
from .forms import (
    CloseAccountForm,
    MoneyMovementForm,
    OpenAccountForm,
    ReasonForm,
    StatementForm,
    TillCashForm,
    TillDayForm,
    TransferForm,
)
from .models import Account, AccountType, Hold, JournalEntry, PostingRequest, Side, Transaction
from .selectors import till_day_summary
from .services import DEPOSIT_ACCOUNT_TYPES
from .statements import account_statement, export_detail, statement_http_response

# Pending confirmations live in the session: token -> what the person confirmed. The token is also
# the posting's idempotency key, so a double click or a resubmitted page posts once.
PENDING_SESSION_KEY = "ledger_pending_postings"
MAX_PENDING = 20


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _decide_link(approval_request) -> str:
    return reverse("admin:approvals_approvalrequest_decide", args=[approval_request.pk])


def _sent_for_approval(request, pending: Pending, what: str) -> None:
    """The admin's answer when an action waits for approval: a message linking the request."""
    approval = pending.approval_request
    messages.info(
        request,
        format_html(
            '{} sent for approval ({} needed, level {}): <a href="{}">approval request</a>.',
            what,
            " or ".join(approval.approver_roles) or "an approver",
            approval.level_label,
            _decide_link(approval),
        ),
    )


@dataclass(frozen=True)
class MoneyAction:
    name: str
    label: str
    permission: str
    form_class: type


MONEY_ACTIONS = {
    "deposit": MoneyAction("deposit", "Deposit", "ledger.post_transaction", MoneyMovementForm),
    "withdraw": MoneyAction("withdraw", "Withdrawal", "ledger.post_transaction", MoneyMovementForm),
    "transfer": MoneyAction("transfer", "Transfer", "ledger.transfer_funds", TransferForm),
    # Teller cash only: the vault and the tellers' tills.
    "till": MoneyAction("till", "Cash movement", "ledger.manage_tills", TillCashForm),
}
MEMBER_MONEY_ACTIONS = ("deposit", "withdraw", "transfer")


class AmountRangeFilter(admin.SimpleListFilter):
    """Amount bands. `amount_field` names the field (or annotation) to compare."""

    title = "amount"
    parameter_name = "amount_range"
    amount_field = "amount"
    RANGES = {
        "lt1k": ("Below 1,000", None, Decimal("1000")),
        "1k-10k": ("1,000 – 9,999.99", Decimal("1000"), Decimal("10000")),
        "10k-100k": ("10,000 – 99,999.99", Decimal("10000"), Decimal("100000")),
        "100k-1m": ("100,000 – 999,999.99", Decimal("100000"), Decimal("1000000")),
        "1m+": ("1,000,000 and above", Decimal("1000000"), None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _low, _high) in self.RANGES.items()]

    def queryset(self, request, queryset):
        band = self.RANGES.get(self.value() or "")
        if band is None:
            return queryset
        _label, low, high = band
        if low is not None:
            queryset = queryset.filter(**{f"{self.amount_field}__gte": low})
        if high is not None:
            queryset = queryset.filter(**{f"{self.amount_field}__lt": high})
        return queryset


class BranchFilter(admin.SimpleListFilter):
    """Branch choices limited to the branches the user may see (the plain filter lists them all)."""

    title = "branch"
    parameter_name = "branch"
    field_path = "branch"

    def lookups(self, request, model_admin):
        branch_model = Account._meta.get_field("branch").remote_field.model
        branches = scope_queryset(branch_model._default_manager.order_by("code"), request.user)
        return [(str(b.pk), f"{b.name} ({b.code})") for b in branches]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{f"{self.field_path}__pk": self.value()})
        return queryset


class HoldBranchFilter(BranchFilter):
    field_path = "account__branch"


class EntryAmountRangeFilter(AmountRangeFilter):
    amount_field = "total_amount"


def _reason_page(request, model_admin, queryset, *, action: str, title: str, button: str, form, rows):
    """Intermediate page of an admin action that needs a reason (and is its confirmation)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "queryset": queryset,
        "rows": rows,
        "form": form,
        "action": action,
        "button": button,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
    }
    return TemplateResponse(request, "admin/ledger/reason_action.html", context)


def today_at_branch(request) -> dict:
    """Dashboard widget for tellers: today's deposits and withdrawals in the user's branches."""
    from datetime import datetime, time, timedelta

    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from cooperative.permissions import sees_all_branches

    today = timezone.localdate()
    start = datetime.combine(today, time.min, tzinfo=timezone.get_current_timezone())
    legs = scope_queryset(Transaction.objects.all(), request.user).filter(
        created_at__gte=start, created_at__lt=start + timedelta(days=1), type=Side.DEBIT
    )
    figures = {}
    for name, kind in (
        ("deposits", JournalEntry.Kind.DEPOSIT),
        ("withdrawals", JournalEntry.Kind.WITHDRAWAL),
    ):
        # One debit leg per deposit (teller cash / bank) and per withdrawal (the member account).
        row = legs.filter(entry__kind=kind).aggregate(count=Count("id"), total=Sum("amount"))
        figures[f"{name}_count"] = row["count"]
        figures[f"{name}_total"] = row["total"] or Decimal("0.00")
    if sees_all_branches(request.user):
        branches = "All branches"
    else:
        branches = ", ".join(request.user.branches.order_by("code").values_list("name", flat=True))
    return {**figures, "day": today, "branches": branches, "currency": settings.COOP_CURRENCY}


# --- Accounts -------------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(ScopedHistoryAdmin):
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

    def has_freeze_permission(self, request) -> bool:
        return request.user.has_perm("ledger.freeze_account")

    def has_close_permission(self, request) -> bool:
        return request.user.has_perm("ledger.close_account")

    # --- display ---

    @admin.display(description="Available")
    def available(self, obj: Account) -> str:
        return _money(obj.available_balance) if obj.pk else ""

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
                    _money(leg.amount) if leg.type == Side.DEBIT else "",
                    _money(leg.amount) if leg.type == Side.CREDIT else "",
                    _money(leg.balance_after),
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
        fields = [name for name in form.changed_data if name in self.EDITABLE_FIELDS]
        if fields:
            # update_fields: the balance read with this form is never written back.
            obj._change_reason = "Product rules changed in the admin"
            obj.save(update_fields=[*fields, "updated_at"])

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

    # --- deposit / withdraw / transfer with a confirmation step ---

    def money_view(self, request, object_id, action: str):
        spec = MONEY_ACTIONS[action]
        account = self._account_or_404(request, object_id)
        if not request.user.has_perm(spec.permission):
            raise PermissionDenied
        change_url = reverse("admin:ledger_account_change", args=[account.pk])
        if spec.name == "till" and account.type != AccountType.TELLER_CASH:
            messages.error(request, "Cash moves between the vault and the tellers' tills only.")
            return HttpResponseRedirect(change_url)
        if spec.name != "till" and account.type not in DEPOSIT_ACCOUNT_TYPES:
            messages.error(request, "Deposits, withdrawals and transfers are for member deposit accounts.")
            return HttpResponseRedirect(change_url)
        if request.method == "POST" and request.POST.get("confirmation_token"):
            return self._post_confirmed(request, account, spec, request.POST["confirmation_token"])

        form = self._money_form(spec, account, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            payload = self._payload(spec, account, form)
            token = secrets.token_urlsafe(24)
            pending = dict(request.session.get(PENDING_SESSION_KEY, {}))
            while len(pending) >= MAX_PENDING:
                pending.pop(next(iter(pending)))
            pending[token] = payload
            request.session[PENDING_SESSION_KEY] = pending
            return self._confirmation_page(request, account, spec, payload, token, form)
        return self._form_page(request, account, spec, form)

    def _money_form(self, spec: MoneyAction, account: Account, data):
        if spec.name in ("transfer", "till"):
            return spec.form_class(data, source=account)
        return MoneyMovementForm(data)

    def _payload(self, spec: MoneyAction, account: Account, form) -> dict:
        data = form.cleaned_data
        payload = {
            "action": spec.name,
            "account_id": str(account.pk),
            "amount": str(data["amount"]),
            "description": data.get("description", ""),
        }
        if spec.name == "transfer":
            payload["to_account_id"] = str(data["to_account_number"].pk)
            payload["to_account_number"] = data["to_account_number"].account_number
        elif spec.name == "till":
            payload["to_account_id"] = str(data["to_account"].pk)
        else:
            payload["channel"] = data["channel"]
        return payload

    def _form_page(self, request, account: Account, spec: MoneyAction, form, status: int = 200):
        title = f"{spec.label} – {account.account_number}"
        context = self._context(
            request, account, title, form=form, action=spec, media=self.media + form.media
        )
        return TemplateResponse(request, "admin/ledger/account/money_form.html", context, status=status)

    def _confirmation_page(self, request, account, spec, payload, token, form):
        amount = Decimal(payload["amount"])
        target = None
        if spec.name == "transfer":
            target = form.cleaned_data["to_account_number"]
        elif spec.name == "till":
            target = form.cleaned_data["to_account"]
        channel_label = dict(MoneyMovementForm.base_fields["channel"].choices).get(payload.get("channel"), "")
        action_type = {"withdraw": approval_actions.WITHDRAWAL, "transfer": approval_actions.TRANSFER}.get(
            spec.name
        )
        needs_approval = action_type is not None and approval_required(
            action_type=action_type, amount=amount, branch_id=account.branch_id
        )
        context = self._context(
            request,
            account,
            f"Confirm {spec.label.lower()}",
            action=spec,
            token=token,
            amount=_money(amount),
            amount_words=amount_in_words(amount, account.currency),
            member=account.member,
            target=target,
            channel=channel_label,
            description=payload["description"],
            needs_approval=needs_approval,
        )
        return TemplateResponse(request, "admin/ledger/account/money_confirm.html", context)

    def _post_confirmed(self, request, account: Account, spec: MoneyAction, token: str):
        change_url = reverse("admin:ledger_account_change", args=[account.pk])
        idempotency_key = f"admin:{token}"
        pending = dict(request.session.get(PENDING_SESSION_KEY, {}))
        payload = pending.get(token)
        if payload is None or payload["action"] != spec.name or payload["account_id"] != str(account.pk):
            done = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                messages.warning(
                    request, f"Already posted as journal {done.reference}; nothing was posted again."
                )
                return HttpResponseRedirect(change_url)
            waiting = PostingRequest.objects.filter(idempotency_key=idempotency_key).first()
            if waiting is not None:
                messages.warning(request, "Already sent for approval; nothing was sent again.")
                return HttpResponseRedirect(change_url)
            messages.error(request, "This confirmation has expired or was already used. Please start again.")
            return HttpResponseRedirect(reverse(f"admin:ledger_account_{spec.name}", args=[account.pk]))
        amount = Decimal(payload["amount"])
        try:
            entry = self._call_service(request, account, payload, amount, idempotency_key)
        except DomainError as exc:
            entry = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
            if entry is None:  # a real refusal (not a racing double click): show it on the form
                pending.pop(token, None)
                request.session[PENDING_SESSION_KEY] = pending
                data = {key: payload.get(key, "") for key in ("amount", "description", "channel")}
                data["to_account_number"] = payload.get("to_account_number", "")
                data["to_account"] = payload.get("to_account_id", "")
                form = self._money_form(spec, account, data)
                form.is_valid()
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
                return self._form_page(request, account, spec, form, status=400)
        pending.pop(token, None)
        request.session[PENDING_SESSION_KEY] = pending
        if isinstance(entry, Pending):
            _sent_for_approval(
                request,
                entry,
                f"{spec.label} of {_money(amount)} {account.currency} ({account.account_number})",
            )
            return HttpResponseRedirect(change_url)
        messages.success(
            request,
            f"{spec.label} of {_money(amount)} {account.currency} posted "
            f"({account.account_number}): journal {entry.reference}.",
        )
        return HttpResponseRedirect(change_url)

    def _call_service(self, request, account, payload, amount, idempotency_key) -> JournalEntry | Pending:
        """Deposits post at once; withdrawals and transfers above the policy band wait for approval."""
        common = {
            "amount": amount,
            "actor": request.user,
            "description": payload["description"],
            "idempotency_key": idempotency_key,
        }
        if payload["action"] == "till":
            return services.move_till_cash(
                from_account_id=account.pk, to_account_id=uuid.UUID(payload["to_account_id"]), **common
            )
        if payload["action"] == "transfer":
            return approval_actions.transfer(
                from_account_id=account.pk, to_account_id=uuid.UUID(payload["to_account_id"]), **common
            )
        service = services.deposit if payload["action"] == "deposit" else approval_actions.withdraw
        return service(account_id=account.pk, channel=payload["channel"], **common)

    # --- the tills of a branch on one day ---

    def tills_view(self, request):
        """Vault and tills of a branch on a day: opening, cash in, cash out, closing (what each
        drawer should hold when the teller counts it)."""
        if not request.user.has_perm("ledger.view_account"):
            raise PermissionDenied
        branches = scope_queryset(Branch.objects.order_by("code"), request.user)
        data = request.GET.copy()
        data.setdefault("day", timezone.localdate().isoformat())
        if "branch" not in data and branches.exists():
            data["branch"] = str(branches.first().pk)
        form = TillDayForm(data, branches=branches)
        rows, totals = [], None
        if form.is_valid():
            rows = till_day_summary(branch_id=form.cleaned_data["branch"].pk, day=form.cleaned_data["day"])
            totals = {
                key: sum((row[key] for row in rows), Decimal("0.00"))
                for key in ("opening", "cash_in", "cash_out", "closing")
            }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Tills of the day",
            "form": form,
            "rows": rows,
            "totals": totals,
            "can_move_cash": request.user.has_perm("ledger.manage_tills"),
        }
        return TemplateResponse(request, "admin/ledger/account/tills.html", context)

    # --- statement download ---

    def statement_view(self, request, object_id):
        account = self._account_or_404(request, object_id)
        if not request.user.has_perm("ledger.export_statement"):
            raise PermissionDenied
        form = StatementForm(request.GET if "date_from" in request.GET else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            account = Account.objects.select_related("member", "branch").get(pk=account.pk)
            statement = account_statement(
                account=account, date_from=data["date_from"], date_to=data["date_to"]
            )
            try:
                response = statement_http_response(statement, data["format"])
            except DomainError as exc:  # e.g. too many movements for a PDF
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                record_event(
                    AuditLog.Event.EXPORT, request=request, detail=export_detail(statement, data["format"])
                )
                return response
        if not form.is_bound:
            form = StatementForm(initial=StatementForm.initial_for_today())
        context = self._context(request, account, f"Statement – {account.account_number}", form=form)
        return TemplateResponse(request, "admin/ledger/account/statement_form.html", context)

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
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                account = services.open_account(
                    member=data["member"],
                    account_type=data["account_type"],
                    actor=request.user,
                    minimum_balance=data["minimum_balance"],
                    daily_withdrawal_limit=data["daily_withdrawal_limit"],
                )
            except DomainError as exc:
                field = {"type": "account_type"}.get(exc.field or "", exc.field)
                form.add_error(field if field in form.fields else None, exc.message)
            else:
                messages.success(request, f"Opened {account.get_type_display().lower()} account {account}.")
                return HttpResponseRedirect(reverse("admin:ledger_account_change", args=[account.pk]))
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

    @admin.action(permissions=["freeze"], description="Unfreeze selected accounts")
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
                    result = approval_actions.close_account(
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
        rows = [(str(a), f"{a.get_status_display()}, balance {_money(a.balance)}") for a in queryset]
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
        rows = [(str(a), f"{a.get_status_display()}, balance {_money(a.balance)}") for a in queryset]
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


# --- Journal entries and legs: read-only, reversible ------------------------------------------------


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
        return _money(obj.balance_after) if getattr(obj, "balance_visible", True) else "—"

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
                mirror = approval_actions.reverse_entry(
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
            f"{_money(getattr(e, 'total_amount', None))} – {e.narration}",
        )
        for e in entries
    ]


def _entries_with_totals(queryset):
    return queryset.annotate(total_amount=Sum("legs__amount", filter=Q(legs__type=Side.DEBIT)))


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
        return _entries_with_totals(super().get_queryset(request))

    @admin.display(description="Amount", ordering="total_amount")
    def amount(self, obj: JournalEntry) -> str:
        return _money(getattr(obj, "total_amount", None))

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
            *super().get_urls(),
        ]

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
        if form.is_bound and form.is_valid():
            try:
                mirror = approval_actions.reverse_entry(
                    entry_id=entry.pk, reason=form.cleaned_data["reason"], actor=request.user
                )
            except DomainError as exc:
                form.add_error("reason" if exc.field == "reason" else None, exc.message)
            else:
                if isinstance(mirror, Pending):
                    _sent_for_approval(request, mirror, f"Reversal of {entry.reference}")
                    return HttpResponseRedirect(change_url)
                messages.success(request, f"Entry {entry.reference} reversed by journal {mirror.reference}.")
                return HttpResponseRedirect(reverse("admin:ledger_journalentry_change", args=[mirror.pk]))
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
        entries = _entries_with_totals(
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

    @admin.display(description="Approval request")
    def approval(self, obj: PostingRequest):
        found = ApprovalRequest.objects.filter(object_id=str(obj.pk)).order_by("created_at").first()
        if found is None:
            return "—"
        return format_html('<a href="{}">{}</a>', _decide_link(found), found.get_status_display())
