"""Hand-built active loans for end-of-day and report tests.

The loan and schedule rows are written directly (as a core-banking migration would load them); the
money side is real: the loan's LOAN account is opened and funded by one balanced disbursement entry
through `ledger.services.post_entry`, so its balance is the principal outstanding.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from ledger import services as ledger
from ledger.models import JournalEntry, Side
from loans.models import Loan, LoanProduct, LoanSchedule
from tests.ledger.factories import make_account, make_member

_numbers = itertools.count(1)


def make_product(**fields) -> LoanProduct:
    n = next(_numbers)
    defaults = {
        "name": f"EOD product {n}",
        "interest_rate": Decimal("12.0000"),
        "min_amount": Decimal("1000.00"),
        "max_amount": Decimal("10000000.00"),
        "min_term": 1,
        "max_term": 60,
    }
    defaults.update(fields)
    return LoanProduct.objects.create(**defaults)


def make_active_loan(
    branch,
    *,
    product: LoanProduct,
    installments: list[tuple[date, str, str]],
    member=None,
    savings: str = "0.00",
    disbursed_on: date = date(2026, 1, 1),
    status: str = Loan.Status.DISBURSED,
) -> Loan:
    """A disbursed loan with `installments` = [(due date, principal, interest), ...]."""
    member = member or make_member(branch)
    saved = make_account(branch, member=member)
    if Decimal(savings) > 0:
        # Saved on the disbursement date: end of day reads balances by value date.
        ledger.deposit(
            account_id=saved.pk,
            amount=Decimal(savings),
            description="Opening deposit",
            value_date=disbursed_on,
        )
    principal = sum((Decimal(p) for _, p, _ in installments), Decimal("0.00"))
    account = ledger.open_account(member=member, account_type="LOAN")
    entry = ledger.post_entry(
        kind=JournalEntry.Kind.LOAN_DISBURSEMENT,
        lines=[
            ledger.Line(account.pk, Side.DEBIT, principal, "Loan principal"),
            ledger.Line(
                ledger.ensure_gl_account(branch_id=branch.pk, gl_code="BANK").pk,
                Side.CREDIT,
                principal,
                "Paid out",
            ),
        ],
        narration="Loan disbursement (test)",
        branch_id=branch.pk,
        value_date=disbursed_on,
    )
    n = next(_numbers)
    loan = Loan.objects.create(
        loan_number=f"EOD{n:07d}",
        member=member,
        product=product,
        branch=branch,
        status=status,
        principal=principal,
        annual_rate=product.interest_rate,
        term=len(installments),
        disbursement_date=disbursed_on,
        first_due_date=installments[0][0],
        account=account,
        disbursement_entry=entry,
    )
    balance = principal
    rows = []
    for number, (due, p, i) in enumerate(installments, start=1):
        balance -= Decimal(p)
        rows.append(
            LoanSchedule(
                loan=loan,
                installment_number=number,
                due_date=due,
                principal_amount=Decimal(p),
                interest_amount=Decimal(i),
                total_amount=Decimal(p) + Decimal(i),
                principal_balance=balance,
            )
        )
    LoanSchedule.objects.bulk_create(rows)
    return loan


def pay_installment(loan: Loan, number: int, *, on: date) -> None:
    """Mark an installment fully paid (schedule side only: what a repayment leaves behind)."""
    row = loan.schedule.get(installment_number=number)
    row.principal_paid = row.principal_amount
    row.interest_paid = row.interest_amount
    row.fee_paid = row.fee_amount
    row.penalty_paid = row.penalty_amount
    row.paid_amount = row.total_amount
    row.is_paid = True
    row.paid_on = on
    row.save()
