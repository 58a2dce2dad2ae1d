"""Counter operations on an account behind a confirmation step (deposit, withdraw, transfer, move
cash), the tills of the day and the statement download: the money half of AccountAdmin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from approvals.selectors import approval_required
from cooperative.admin_confirm import Confirmation, add_domain_error
from cooperative.audit import record_event
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog, Branch
from cooperative.money import amount_in_words, format_amount
from cooperative.permissions import scope_queryset

from .. import approval_actions, services
from ..forms import MoneyMovementForm, StatementForm, TillCashForm, TillDayForm, TransferForm
from ..kyc import kyc_notice
from ..models import Account, AccountType, JournalEntry, PostingRequest
from ..selectors import till_day_summary
from ..services import DEPOSIT_ACCOUNT_TYPES, Pending
from ..statements import account_statement, export_detail, statement_http_response
from .common import _sent_for_approval

# Pending confirmations live in the session: token -> what the person confirmed. The token is also
# the posting's idempotency key, so a double click or a resubmitted page posts once.
PENDING_SESSION_KEY = "ledger_pending_postings"
MAX_PENDING = 20


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

if TYPE_CHECKING:

    class _Base(admin.ModelAdmin[Account]):
        """What the mixin uses of AccountAdmin (ledger/admin/accounts.py)."""

        def _account_or_404(self, request, object_id) -> Account: ...
        def _context(self, request, account: Account, title: str, **extra) -> dict: ...
else:  # a mixin: AccountAdmin supplies these
    _Base = object


class AccountMoneyActionsMixin(_Base):
    """AccountAdmin's counter operations; the admin supplies `_account_or_404`, `_context`, `_url`."""

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
        confirmation = Confirmation(request, PENDING_SESSION_KEY, limit=MAX_PENDING)
        if request.method == "POST" and request.POST.get("confirmation_token"):
            return self._post_confirmed(
                request, account, spec, confirmation, request.POST["confirmation_token"]
            )

        form = self._money_form(spec, account, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            payload = self._payload(spec, account, form)
            token = confirmation.issue(payload)
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
            request,
            account,
            title,
            form=form,
            action=spec,
            media=self.media + form.media,
            kyc=kyc_notice(account),
        )
        return TemplateResponse(request, "admin/ledger/account/money_form.html", context, status=status)

    def _confirmation_page(self, request, account, spec, payload, token, form):
        amount = Decimal(payload["amount"])
        target = None
        if spec.name == "transfer":
            target = form.cleaned_data["to_account_number"]
        elif spec.name == "till":
            target = form.cleaned_data["to_account"]
        channel_field = cast(forms.ChoiceField, MoneyMovementForm.base_fields["channel"])
        # Django normalises choices to (value, label) pairs; the stubs type the getter as the setter's input.
        channel_label = dict(channel_field.choices).get(payload.get("channel"), "")  # type: ignore[arg-type]
        action_type = {
            "withdraw": approval_actions.WITHDRAWAL,
            "transfer": approval_actions.TRANSFER,
            # Only cash deposits are under the deposit band (ledger.services.deposit).
            "deposit": approval_actions.DEPOSIT if payload.get("channel") == "cash" else None,
        }.get(spec.name)
        needs_approval = action_type is not None and approval_required(
            action_type=action_type, amount=amount, branch_id=account.branch_id
        )
        context = self._context(
            request,
            account,
            f"Confirm {spec.label.lower()}",
            action=spec,
            token=token,
            amount=format_amount(amount),
            amount_words=amount_in_words(amount, account.currency),
            member=account.member,
            target=target,
            channel=channel_label,
            description=payload["description"],
            needs_approval=needs_approval,
            kyc=kyc_notice(account),
        )
        return TemplateResponse(request, "admin/ledger/account/money_confirm.html", context)

    def _post_confirmed(self, request, account: Account, spec: MoneyAction, confirmation, token: str):
        change_url = reverse("admin:ledger_account_change", args=[account.pk])

        def replayed(idempotency_key: str):
            done = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
            if done is not None:
                messages.warning(
                    request, f"Already posted as journal {done.reference}; nothing was posted again."
                )
                return HttpResponseRedirect(change_url)
            if PostingRequest.objects.filter(idempotency_key=idempotency_key).exists():
                messages.warning(request, "Already sent for approval; nothing was sent again.")
                return HttpResponseRedirect(change_url)
            return None

        def post(payload: dict, idempotency_key: str):
            try:
                return self._call_service(
                    request, account, payload, Decimal(payload["amount"]), idempotency_key
                )
            except DomainError:
                entry = JournalEntry.objects.filter(idempotency_key=idempotency_key).first()
                if entry is None:  # a real refusal (not a racing double click): show it on the form
                    raise
                return entry

        def refused(payload: dict, exc: DomainError):
            data = {key: payload.get(key, "") for key in ("amount", "description", "channel")}
            data["to_account_number"] = payload.get("to_account_number", "")
            data["to_account"] = payload.get("to_account_id", "")
            form = self._money_form(spec, account, data)
            form.is_valid()
            add_domain_error(form, exc)
            return self._form_page(request, account, spec, form, status=400)

        def done(payload: dict, entry):
            amount = format_amount(Decimal(payload["amount"]))
            if isinstance(entry, Pending):
                what = f"{spec.label} of {amount} {account.currency} ({account.account_number})"
                _sent_for_approval(request, entry, what)
                return HttpResponseRedirect(change_url)
            messages.success(
                request,
                f"{spec.label} of {amount} {account.currency} posted "
                f"({account.account_number}): journal {entry.reference}.",
            )
            return HttpResponseRedirect(change_url)

        return confirmation.post(
            token,
            belongs=lambda payload: (
                payload["action"] == spec.name and payload["account_id"] == str(account.pk)
            ),
            service=post,
            done=done,
            refused=refused,
            replayed=replayed,
            start_again_url=reverse(f"admin:ledger_account_{spec.name}", args=[account.pk]),
        )

    def _call_service(self, request, account, payload, amount, idempotency_key) -> JournalEntry | Pending:
        """Cash deposits, withdrawals and transfers above their policy band wait for approval."""
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
            return services.transfer(
                from_account_id=account.pk, to_account_id=uuid.UUID(payload["to_account_id"]), **common
            )
        service = services.deposit if payload["action"] == "deposit" else services.withdraw
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
            data["branch"] = str(branches[0].pk)
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
