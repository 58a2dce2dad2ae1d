"""Loan test helpers: products, funded members and loans in any state, built through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from approvals.selectors import pending_request_for
from approvals.services import decide_approval
from ledger import services as ledger
from ledger.models import Account, AccountType
from loans import services
from loans.models import Loan, LoanProduct
from tests.factories import UserFactory
from tests.members.factories import MemberFactory

D = Decimal


class LoanProductFactory(DjangoModelFactory):
    """A plain monthly reducing-balance product: 12% a year, 10,000–1,000,000 over 1–24 months."""

    class Meta:
        model = LoanProduct

    name = factory.Sequence(lambda n: f"Standard loan {n}")
    interest_rate = D("12.0000")
    min_amount = D("10000.00")
    max_amount = D("1000000.00")
    min_term = 1
    max_term = 24
    processing_fee_value = D("0")


def make_member(
    branch, *, savings: Decimal | str = "0", shares: Decimal | str = "0", months: int = 24, **fields
):
    """An ACTIVE member who joined `months` ago, with a savings (and shares) account funded by cash."""
    member = MemberFactory(branch=branch, join_date=date.today() - timedelta(days=31 * months), **fields)
    account = ledger.open_account(member=member, account_type=AccountType.SAVINGS)
    if D(savings) > 0:
        ledger.deposit(account_id=account.pk, amount=D(savings), description="Savings")
    if D(shares) > 0:
        shares_account = ledger.open_account(member=member, account_type=AccountType.SHARES)
        ledger.deposit(account_id=shares_account.pk, amount=D(shares), description="Shares")
    return member


def savings_of(member) -> Account:
    return Account.objects.get(member=member, type=AccountType.SAVINGS)


def make_loan(
    *,
    member,
    product: LoanProduct,
    officer=None,
    manager=None,
    principal: Decimal | str = "100000.00",
    term: int = 12,
    status: str = Loan.Status.DISBURSED,
    disbursed_on: date | None = None,
    guarantors=(),
) -> Loan:
    """A loan taken as far as `status` through the services (officer creates/submits, manager decides).

    `guarantors` is a list of (member, amount) pledged before submission.
    """
    loan = services.create_application(
        actor=officer, member=member, product=product, principal=D(principal), term=term, purpose="Stock"
    )
    for guarantor, amount in guarantors:
        services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount=D(amount))
    if status == Loan.Status.DRAFT:
        return loan
    if status == Loan.Status.WITHDRAWN:
        return services.withdraw_application(actor=officer, loan_id=loan.pk, reason="Changed my mind")
    services.submit_application(actor=officer, loan_id=loan.pk)
    if status == Loan.Status.SUBMITTED:
        return Loan.objects.get(pk=loan.pk)
    if status == Loan.Status.REJECTED:
        return services.reject_loan(actor=manager, loan_id=loan.pk, reason="Insufficient income")
    services.approve_loan(actor=manager, loan_id=loan.pk, comment="OK")
    if status == Loan.Status.APPROVED:
        return Loan.objects.get(pk=loan.pk)
    return services.disburse_loan(
        actor=colleague_of(manager, loan), loan_id=loan.pk, disbursement_date=disbursed_on
    )


def colleague_of(manager, loan: Loan):
    """Who disburses a loan `manager` approved: another manager of its branch (separation of duties,
    Branch.separate_approve_and_disburse); the approver when the branch has it off."""
    if manager is None or not loan.branch.separate_approve_and_disburse:
        return manager
    others = type(manager).objects.filter(groups__name="MANAGER", branches=loan.branch, is_active=True)
    return others.exclude(pk=manager.pk).order_by("email").first() or UserFactory(
        roles=["MANAGER"], branches=[loan.branch], email="disburser@test.ng"
    )


def decide(subject, action_type: str, *, by, decision: str = "APPROVED", comment: str = "Agreed"):
    """Decide `subject`'s pending approval request of `action_type` as `by` (one level's decision)."""
    request = pending_request_for(subject=subject, action_type=action_type)
    assert request is not None, f"no pending {action_type} request"
    return decide_approval(request_id=request.pk, actor=by, decision=decision, comment=comment)


def write_off(loan: Loan, *, requester, approver, reason: str = "Uncollectable") -> Loan:
    """A write-off as it happens: a manager asks (with the reason), another manager approves."""
    services.write_off_loan(actor=requester, loan_id=loan.pk, reason=reason)
    decide(loan, "write_off", by=approver)
    return Loan.objects.get(pk=loan.pk)
