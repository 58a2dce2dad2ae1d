"""Repayments, their allocation over the schedule, and reversals.

Allocation of a payment dated D (`allocate`):
1. installments due on or before D, oldest first, each paid in the product's allocation order
   (default penalty -> fee -> interest -> principal);
2. then the current installment (the first one due after D), in the same order;
3. anything left prepays principal of the later installments, by the product's overpayment policy:
   REDUCE_TERM pays principal from the last installment backwards, and an installment whose principal
   is fully prepaid is dropped (its interest waived: the term is shorter); REDUCE_INSTALLMENT spreads
   the prepayment evenly over the remaining installments' principal (each installment gets smaller);
   REFUSE (and any policy for amounts above the payoff) refuses more than the settlement quote.
   Future interest is not recomputed after a partial prepayment (no interest recalculation).
4. when the whole principal is repaid, the unpaid charges of installments not yet due are waived and
   the loan closes (guarantees released).
The allocation (what each installment received and what was waived) is stored on the payment, so a
reversal subtracts it back exactly.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cooperative.exceptions import Conflict, NotFoundError, ValidationFailed
from cooperative.money import money
from ledger import services as ledger
from ledger.lock_objects import accounts_for_update
from ledger.models import Hold, JournalEntry, Side

from ..exceptions import LoanClosed, RepaymentRefused
from ..guarantees import savings_account_of, sync_guarantor_holds
from ..lock_objects import payment_for_update, schedule_for_update
from ..models import Guarantor, Loan, LoanPayment, LoanProduct, LoanSchedule
from ..selectors import COMPONENTS, quote_from_rows, row_outstanding
from ..workflow import LOAN_MACHINE
from ._common import (
    ZERO,
    clean_amount,
    clean_reason,
    counter_id,
    gl_id,
    locked_loan,
    record_event,
    require,
    today,
    transition,
)

INCOME_GL = {"interest": "INTEREST_INCOME", "fee": "FEE_INCOME", "penalty": "PENALTY_INCOME"}
SOURCE_GL = {"CASH": "TELLER_CASH", "BANK": "BANK"}
GATEWAY_GL = {"paystack": "PAYSTACK_CLEARING", "flutterwave": "FLUTTERWAVE_CLEARING"}
BEFORE_KEYS = ("paid_on_before", "overdue_before")
STAFF_SOURCES = ("CASH", "BANK", "SAVINGS", "GATEWAY", "AUTO_DEBIT")


def allocation_order(product: LoanProduct) -> list[str]:
    order = [part.strip().lower() for part in (product.allocation_order or "").split(",") if part.strip()]
    if sorted(order) != sorted(COMPONENTS):
        return list(COMPONENTS)
    return order


def _refresh_totals(row: LoanSchedule, on: date) -> None:
    row.total_amount = row.principal_amount + row.interest_amount + row.fee_amount + row.penalty_amount
    row.paid_amount = row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
    was_paid = row.is_paid
    row.is_paid = row.paid_amount >= row.total_amount
    if row.is_paid and not was_paid:
        row.paid_on = on
    if row.is_paid:
        row.is_overdue = False


def _pay(row: LoanSchedule, component: str, available: Decimal, record: dict) -> Decimal:
    take = min(available, row_outstanding(row, component))
    if take > 0:
        setattr(row, f"{component}_paid", getattr(row, f"{component}_paid") + take)
        record[component] = record.get(component, ZERO) + take
    return available - take


def _waive(row: LoanSchedule, component: str, record: dict) -> None:
    unpaid = row_outstanding(row, component)
    if unpaid > 0:
        setattr(row, f"{component}_amount", getattr(row, f"{component}_amount") - unpaid)
        record[f"{component}_waived"] = record.get(f"{component}_waived", ZERO) + unpaid


def allocate(rows: list[LoanSchedule], amount: Decimal, *, on: date, order: list[str], policy: str):
    """Apply `amount` to the rows in place. Returns (records by installment, prepaid principal)."""
    records: dict[int, dict] = {
        row.installment_number: {
            "paid_on_before": row.paid_on.isoformat() if row.paid_on else None,
            "overdue_before": row.is_overdue,
        }
        for row in rows
    }
    left = amount
    due = [r for r in rows if r.due_date <= on]
    later = [r for r in rows if r.due_date > on]
    current = next((r for r in later if any(row_outstanding(r, c) for c in COMPONENTS)), None)
    for row in [*due, *([current] if current else [])]:
        for component in order:
            left = _pay(row, component, left, records[row.installment_number])
    after = [r for r in later if r is not current and row_outstanding(r, "principal") > 0]
    prepaid = left
    if left > 0:
        if policy == LoanProduct.Overpayment.REDUCE_TERM:
            for row in reversed(after):
                left = _pay(row, "principal", left, records[row.installment_number])
                if row_outstanding(row, "principal") == 0:
                    for component in ("interest", "fee", "penalty"):
                        _waive(row, component, records[row.installment_number])
        elif policy == LoanProduct.Overpayment.REDUCE_INSTALLMENT:
            while left > 0 and any(row_outstanding(r, "principal") > 0 for r in after):
                open_rows = [r for r in after if row_outstanding(r, "principal") > 0]
                share = money(left / len(open_rows), rounding="half_even")
                share = min(share, left) if share > 0 else left
                for index, row in enumerate(open_rows):
                    portion = left if index == len(open_rows) - 1 else min(share, left)
                    left = left - portion + _pay(row, "principal", portion, records[row.installment_number])
        else:
            for row in after:
                left = _pay(row, "principal", left, records[row.installment_number])
    prepaid -= left
    if all(row_outstanding(r, "principal") == 0 for r in rows):
        for row in later:
            for component in ("interest", "fee", "penalty"):
                _waive(row, component, records[row.installment_number])
    for row in rows:
        _refresh_totals(row, on)
    allocation = []
    for row in rows:
        record = records[row.installment_number]
        amounts = {key: value for key, value in record.items() if key not in BEFORE_KEYS and value}
        if amounts:
            allocation.append(
                {
                    "installment": row.installment_number,
                    "paid_on_before": record["paid_on_before"],
                    "overdue_before": record["overdue_before"],
                    **{key: str(value) for key, value in amounts.items()},
                }
            )
    return allocation, prepaid, left


def _save_rows(rows: list[LoanSchedule], reason: str) -> None:
    fields = [
        "principal_amount",
        "interest_amount",
        "fee_amount",
        "penalty_amount",
        "total_amount",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "penalty_paid",
        "paid_amount",
        "is_paid",
        "paid_on",
        "is_overdue",
    ]
    for row in rows:
        row._change_reason = reason
        row.save(update_fields=fields)


def _source_account(loan: Loan, source: str, gateway: str, actor):
    if source in SOURCE_GL:
        return counter_id(branch_id=loan.branch_id, gl_code=SOURCE_GL[source], actor=actor)
    if source == "GATEWAY":
        gl_code = GATEWAY_GL.get((gateway or "paystack").lower())
        if gl_code is None:
            raise ValidationFailed("The gateway is paystack or flutterwave.", field="gateway")
        return gl_id(branch_id=loan.branch_id, gl_code=gl_code)
    if source in ("SAVINGS", "AUTO_DEBIT"):
        savings = savings_account_of(loan.member)
        if savings is None:
            raise RepaymentRefused("The member has no savings account to pay from.", field="source")
        return savings.pk
    raise ValidationFailed(f"The source is one of {', '.join(STAFF_SOURCES)}.", field="source")


def lock_accounts(loan: Loan, account_ids: set) -> None:
    """Lock, in one primary-key-ordered statement, every account this repayment will touch: the
    entry's accounts and the savings holding the loan's guarantees (released or shrunk afterwards).
    Without it two repayments of loans whose borrowers guarantee each other could lock the same
    two savings accounts in opposite orders and deadlock."""
    held = Hold.objects.filter(
        pk__in=Guarantor.objects.filter(loan=loan, hold__isnull=False).values("hold_id")
    ).values_list("account_id", flat=True)
    list(accounts_for_update({*account_ids, *held}))


def _close_if_repaid(loan: Loan, rows: list[LoanSchedule], *, actor, on: date) -> None:
    if LOAN_MACHINE.allows(loan, "close", actor=actor, rows=rows):
        loan.closed_at = timezone.now()
        loan.days_past_due, loan.arrears_amount = 0, ZERO
        transition(
            loan,
            "close",
            actor=actor,
            comment=f"Repaid in full on {on.isoformat()}",
            fields=["closed_at", "days_past_due", "arrears_amount"],
        )


def _apply_repayment(
    loan: Loan,
    *,
    actor,
    amount: Decimal,
    source: str,
    debit_account_id,
    payment_date: date,
    idempotency_key: str | None = None,
    reference: str = "",
    comment: str = "",
) -> LoanPayment:
    """Allocate and post a repayment on a locked, DISBURSED loan (shared by every repayment path)."""
    if payment_date < loan.disbursement_date:
        raise RepaymentRefused(
            f"A repayment cannot be dated {payment_date.isoformat()}, before the loan was disbursed "
            f"({loan.disbursement_date.isoformat()}).",
            field="payment_date",
        )
    if payment_date > today():
        raise RepaymentRefused("A repayment cannot be dated in the future.", field="payment_date")
    rows = list(schedule_for_update(loan.pk))
    quote = quote_from_rows(rows, payment_date)
    if amount > quote.total:
        product = loan.product
        why = (
            f"{product.name} refuses overpayments"
            if product.overpayment_policy == LoanProduct.Overpayment.REFUSE
            else "a loan cannot be overpaid"
        )
        raise RepaymentRefused(
            f"{amount} is more than the payoff of {quote.total} on {payment_date.isoformat()}; {why}.",
            field="amount",
        )
    allocation, prepaid, left = allocate(
        rows,
        amount,
        on=payment_date,
        order=allocation_order(loan.product),
        policy=loan.product.overpayment_policy,
    )
    if left > 0:  # cannot happen within the quote; refuse rather than lose money
        raise RepaymentRefused(f"{left} of the payment could not be allocated.", field="amount")
    portions = {c: sum((Decimal(a.get(c, "0")) for a in allocation), ZERO) for c in COMPONENTS}
    narration = f"Repayment of loan {loan.loan_number}"
    lines = [ledger.Line(debit_account_id, Side.DEBIT, amount, narration)]
    if portions["principal"] > 0:
        lines.append(
            ledger.Line(loan.account_id, Side.CREDIT, portions["principal"], f"{narration}: principal")
        )
    for component, gl_code in INCOME_GL.items():
        if portions[component] > 0:
            lines.append(
                ledger.Line(
                    gl_id(branch_id=loan.branch_id, gl_code=gl_code),
                    Side.CREDIT,
                    portions[component],
                    f"{narration}: {component}",
                )
            )
    lock_accounts(loan, {line.account_id for line in lines})
    entry = ledger.post_entry(
        kind=JournalEntry.Kind.LOAN_REPAYMENT,
        lines=lines,
        narration=narration + (f" ({reference})" if reference else ""),
        actor=actor,
        branch_id=loan.branch_id,
        value_date=payment_date,
        idempotency_key=idempotency_key,
        metadata={"loan": str(loan.pk), "loan_number": loan.loan_number, "source": source},
    )
    _save_rows(rows, "repayment")
    payment = LoanPayment.objects.create(
        loan=loan,
        amount=amount,
        source=source,
        payment_date=payment_date,
        principal_portion=portions["principal"],
        interest_portion=portions["interest"],
        fee_portion=portions["fee"],
        penalty_portion=portions["penalty"],
        prepaid_principal=prepaid,
        allocation=allocation,
        journal_entry=entry,
        received_by=actor if actor is not None and actor.pk else None,
        reference=(reference or "")[:80],
    )
    record_event(
        loan,
        actor=actor,
        action="repayment",
        from_status=loan.status,
        comment=comment or f"{amount} received ({LoanPayment.Source(source).label.lower()})",
        metadata={
            "payment": str(payment.pk),
            "amount": str(amount),
            **{k: str(v) for k, v in portions.items()},
        },
    )
    outstanding = sum((row_outstanding(r, "principal") for r in rows), ZERO)
    sync_guarantor_holds(loan, outstanding=outstanding)
    _close_if_repaid(loan, rows, actor=actor, on=payment_date)
    return payment


@transaction.atomic
def record_repayment(
    *,
    actor,
    loan_id,
    amount,
    source: str,
    payment_date: date | None = None,
    idempotency_key: str | None = None,
    reference: str = "",
    gateway: str = "paystack",
) -> LoanPayment:
    """Take a repayment from teller cash, the bank, the member's savings or a gateway.

    Idempotent on `idempotency_key`: the same key returns the first payment. Refused on a loan that is
    not active (closed, written off, not yet disbursed), dated before disbursement or in the future,
    or above the settlement quote.
    """
    amount = clean_amount(amount)
    source = (source or "").upper()
    if source not in STAFF_SOURCES:
        raise ValidationFailed(f"The source is one of {', '.join(STAFF_SOURCES)}.", field="source")
    loan = locked_loan(loan_id)
    require(actor, "loans.record_repayment", loan.branch_id)
    if idempotency_key:
        existing = LoanPayment.objects.filter(journal_entry__idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.loan_id != loan.pk or existing.amount != amount:
                raise Conflict(
                    "This idempotency key was used for a different repayment.", field="idempotency_key"
                )
            return existing
    if loan.status == Loan.Status.CLOSED:
        raise LoanClosed(f"Loan {loan.loan_number} is closed; there is nothing left to repay.", field="loan")
    if loan.status == Loan.Status.WRITTEN_OFF:
        raise LoanClosed(f"Loan {loan.loan_number} was written off; record a recovery instead.", field="loan")
    if loan.status != Loan.Status.DISBURSED:
        raise LoanClosed(
            f"Loan {loan.loan_number} is {loan.get_status_display().lower()}; "
            "only an active loan can be repaid.",
            field="loan",
        )
    return _apply_repayment(
        loan,
        actor=actor,
        amount=amount,
        source=source,
        debit_account_id=_source_account(loan, source, gateway, actor),
        payment_date=payment_date or today(),
        idempotency_key=idempotency_key,
        reference=reference,
    )


@transaction.atomic
def reverse_repayment(*, actor, payment_id, reason: str) -> LoanPayment:
    """Undo a repayment: mirror its journal entry and subtract its allocation from the schedule.

    Only the loan's latest unreversed repayment can be reversed (reverse later ones first), so the
    schedule returns exactly to what it was. A loan the repayment closed is reopened.
    """
    reason = clean_reason(reason, what="a reason for the reversal")
    loan_id = LoanPayment.objects.filter(pk=payment_id).values_list("loan_id", flat=True).first()
    if loan_id is None:
        raise NotFoundError("No such repayment.")
    loan = locked_loan(loan_id)
    require(actor, "loans.reverse_repayment", loan.branch_id)
    payment = payment_for_update(payment_id).get()
    if payment.reversed_at is not None:
        raise Conflict("This repayment has already been reversed.", field="payment")
    if loan.status not in (Loan.Status.DISBURSED, Loan.Status.CLOSED):
        raise Conflict(
            f"Loan {loan.loan_number} is {loan.get_status_display().lower()}; "
            "its repayments cannot be reversed.",
            field="payment",
        )
    later = (
        LoanPayment.objects.filter(loan=loan, reversed_at__isnull=True)
        .exclude(pk=payment.pk)
        .filter(created_at__gt=payment.created_at)
        .exists()
    )
    if later:
        raise Conflict("Reverse the later repayments of this loan first.", field="payment")
    entry = payment.journal_entry
    mirror = [
        ledger.Line(
            leg.account_id,
            Side.CREDIT if leg.type == Side.DEBIT else Side.DEBIT,
            leg.amount,
            f"Reversal of {entry.reference}",
        )
        for leg in entry.legs.order_by("pk")
    ]
    lock_accounts(loan, {line.account_id for line in mirror})
    reversal = ledger.post_entry(
        kind=JournalEntry.Kind.REVERSAL,
        lines=mirror,
        narration=f"Reversal of {entry.reference}: {reason}",
        actor=actor,
        branch_id=entry.branch_id,
        reverses=entry,
        reversal_reason=reason,
        metadata={"loan": str(loan.pk), "payment": str(payment.pk)},
    )
    rows = {row.installment_number: row for row in schedule_for_update(loan.pk)}
    for record in payment.allocation:
        row = rows[record["installment"]]
        for component in COMPONENTS:
            paid = Decimal(record.get(component, "0"))
            waived = Decimal(record.get(f"{component}_waived", "0"))
            setattr(row, f"{component}_paid", getattr(row, f"{component}_paid") - paid)
            setattr(row, f"{component}_amount", getattr(row, f"{component}_amount") + waived)
        row.total_amount = row.principal_amount + row.interest_amount + row.fee_amount + row.penalty_amount
        row.paid_amount = row.principal_paid + row.interest_paid + row.fee_paid + row.penalty_paid
        row.is_paid = row.paid_amount >= row.total_amount
        before = record.get("paid_on_before")
        row.paid_on = date.fromisoformat(before) if before else None
        row.is_overdue = bool(record.get("overdue_before", row.is_overdue))
    _save_rows(list(rows.values()), "repayment reversed")
    payment.reversal_entry, payment.reversed_at = reversal, timezone.now()
    payment._change_reason = reason
    payment.save(update_fields=["reversal_entry", "reversed_at", "updated_at"])
    outstanding = sum((row_outstanding(r, "principal") for r in rows.values()), ZERO)
    if loan.status == Loan.Status.CLOSED:
        loan.closed_at = None
        transition(
            loan,
            "reopen",
            actor=actor,
            comment=f"Repayment of {payment.amount} reversed: {reason}",
            fields=["closed_at"],
            outstanding=outstanding,
        )
    else:
        sync_guarantor_holds(loan, outstanding=outstanding)
    record_event(
        loan,
        actor=actor,
        action="repayment_reversed",
        from_status=loan.status,
        comment=reason,
        metadata={"payment": str(payment.pk), "amount": str(payment.amount), "entry": reversal.reference},
    )
    return payment
