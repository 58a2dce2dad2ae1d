"""Demo loans for `seed_demo`: three products and a loan in every state, all through the real
services and the approvals app (so `verify_ledger` passes and every loan has its timeline). Overdue
loans come from back-dated disbursements. Idempotent: once the demo loans exist, a second run adds
nothing.

Two applications taken and submitted by the demo loan officer wait in "My approvals": one up to
₦500,000 (one manager decides) and an asset loan of ₦1,200,000 (a manager, then the credit committee
of two). The written-off loan was asked for by the manager and approved by the second manager.

Runs after the ledger demo (order 30), which gives the Main Branch members their savings.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from approvals.selectors import pending_request_for
from approvals.services import decide_approval
from cooperative.exceptions import DomainError
from ledger.models import Account, AccountType

from . import services
from .eod import run_end_of_day
from .models import Loan, LoanProduct
from .selectors import settlement_quote

STANDARD = "Standard loan"
EMERGENCY = "Emergency loan"
ASSET = "Asset finance loan"
ASSET_PRINCIPAL = Decimal("1200000.00")
DEMO_PURPOSE = "Demo: "


def _products() -> tuple[LoanProduct, LoanProduct]:
    standard, _ = LoanProduct.objects.get_or_create(
        name=STANDARD,
        defaults={
            "description": "Monthly reducing-balance loan up to twice the member's savings, one guarantor "
            "covering half of it.",
            "interest_rate": Decimal("18.0000"),
            "min_amount": Decimal("20000.00"),
            "max_amount": Decimal("5000000.00"),
            "min_term": 3,
            "max_term": 24,
            "calculation_method": "reducing_balance",
            "processing_fee_type": LoanProduct.FeeType.PERCENT,
            "processing_fee_value": Decimal("1.0000"),
            "penalty_rate": Decimal("2.0000"),
            "penalty_grace_days": 5,
            "savings_multiple": Decimal("2.00"),
            "max_active_loans": 1,
            "required_guarantors": 1,
            "guarantor_coverage_percent": Decimal("50.00"),
            "overpayment_policy": LoanProduct.Overpayment.REDUCE_TERM,
        },
    )
    emergency, _ = LoanProduct.objects.get_or_create(
        name=EMERGENCY,
        defaults={
            "description": "Small flat-rate loan for emergencies (medical bills, school fees), paid back "
            "within six months.",
            "interest_rate": Decimal("24.0000"),
            "min_amount": Decimal("5000.00"),
            "max_amount": Decimal("200000.00"),
            "min_term": 1,
            "max_term": 6,
            "calculation_method": "flat_rate",
            "processing_fee_type": LoanProduct.FeeType.FLAT,
            "processing_fee_value": Decimal("500.0000"),
            "penalty_rate": Decimal("1.0000"),
            "penalty_frequency": LoanProduct.PenaltyFrequency.PER_MONTH,
            "max_active_loans": 1,
            "overpayment_policy": LoanProduct.Overpayment.REFUSE,
        },
    )
    return standard, emergency


def _asset_product() -> LoanProduct:
    product, _ = LoanProduct.objects.get_or_create(
        name=ASSET,
        defaults={
            "description": "Hire-purchase style loan for equipment and vehicles, secured by the asset "
            "itself: ₦500,000 to ₦5,000,000, no savings ceiling.",
            "interest_rate": Decimal("20.0000"),
            "min_amount": Decimal("500000.00"),
            "max_amount": Decimal("5000000.00"),
            "min_term": 6,
            "max_term": 36,
            "calculation_method": "reducing_balance",
            "processing_fee_type": LoanProduct.FeeType.PERCENT,
            "processing_fee_value": Decimal("1.5000"),
            "penalty_rate": Decimal("2.0000"),
            "max_active_loans": 1,
            "overpayment_policy": LoanProduct.Overpayment.REDUCE_TERM,
        },
    )
    return product


def _second_manager(branch, manager):
    """Another manager of the branch (the demo's manager2): approves what the first one asks."""
    user_model = type(manager)
    return (
        user_model.objects.filter(groups__name="MANAGER", branches=branch, is_active=True)
        .exclude(pk=manager.pk)
        .order_by("email")
        .first()
    )


def _savings(member) -> Decimal:
    account = Account.objects.filter(member=member, type=AccountType.SAVINGS, status="ACTIVE").first()
    return account.available_balance if account else Decimal("0.00")


def _thousands(value: Decimal) -> Decimal:
    return (value / 1000).quantize(Decimal("1"), rounding=ROUND_DOWN) * 1000


# (status, product, term, days since disbursement, installments paid on their due dates, purpose)
PLAN = [
    (Loan.Status.DRAFT, EMERGENCY, 3, None, 0, "School fees"),
    (Loan.Status.SUBMITTED, STANDARD, 12, None, 0, "Shop stock"),
    (Loan.Status.APPROVED, EMERGENCY, 4, None, 0, "Medical bill"),
    (Loan.Status.REJECTED, EMERGENCY, 6, None, 0, "Wedding"),
    (Loan.Status.WITHDRAWN, EMERGENCY, 3, None, 0, "Rent"),
    (Loan.Status.DISBURSED, STANDARD, 12, 40, 1, "Sewing machines"),
    (Loan.Status.DISBURSED, EMERGENCY, 6, 100, 1, "Farm inputs (overdue)"),
    (Loan.Status.DISBURSED, STANDARD, 12, 130, 0, "Tricycle (overdue)"),
    (Loan.Status.CLOSED, EMERGENCY, 3, 70, 2, "Generator"),
    (Loan.Status.WRITTEN_OFF, EMERGENCY, 6, 240, 0, "Poultry"),
]


def seed(*, branch, other_branch, staff, stdout, **_ignored) -> None:
    standard, emergency = _products()
    asset = _asset_product()
    if Loan.objects.filter(branch=branch, purpose__startswith=DEMO_PURPOSE).exists():
        stdout.write("Loans demo: nothing to add.")
        return
    officer, manager, teller = staff.get("LOAN_OFFICER"), staff.get("MANAGER"), staff.get("TELLER")
    member_model = Loan._meta.get_field("member").remote_field.model
    members = list(
        member_model._default_manager.filter(branch=branch, status="ACTIVE", accounts__type="SAVINGS")
        .distinct()
        .order_by("member_number")
    )
    if len(members) < 3:
        stdout.write("Loans demo: not enough members with savings; run the ledger demo first.")
        return
    products = {STANDARD: standard, EMERGENCY: emergency}
    today = timezone.localdate()
    made = 0
    for index, (status, product_name, term, days_ago, paid, purpose) in enumerate(PLAN):
        borrower = members[index % len(members)]
        product = products[product_name]
        try:
            _make(
                status=status,
                product=product,
                borrower=borrower,
                members=members,
                term=term,
                disbursed_on=today - timedelta(days=days_ago) if days_ago else None,
                paid=paid,
                purpose=DEMO_PURPOSE + purpose,
                officer=officer,
                manager=manager,
                second_manager=_second_manager(branch, manager),
                teller=teller,
            )
            made += 1
        except DomainError as exc:
            stdout.write(f"Loans demo: skipped a {status.lower()} loan for {borrower}: {exc}")
    made += _large_application(asset, members=members, officer=officer, stdout=stdout)
    stdout.write(f"Loans demo: 3 products, {made} loans in every state (some overdue).")
    # Classify the portfolio now, as the nightly job would, so arrears and PAR show at once.
    stats = run_end_of_day(as_of=today)
    stdout.write(
        f"Loans demo: end of day for {today}: {stats.get('loans_in_arrears', 0)} loan(s) in arrears."
    )


def _large_application(product, *, members, officer, stdout) -> int:
    """A ₦1,200,000 asset loan, submitted: manager, then the credit committee of two, decide it."""
    busy = set(
        Loan.objects.filter(status__in=[Loan.Status.APPROVED, Loan.Status.DISBURSED]).values_list(
            "member_id", flat=True
        )
    )
    borrower = next((m for m in reversed(members) if m.pk not in busy), None)
    if borrower is None:
        return 0
    try:
        loan = services.create_application(
            actor=officer,
            member=borrower,
            product=product,
            principal=ASSET_PRINCIPAL,
            term=24,
            purpose=DEMO_PURPOSE + "Delivery van",
        )
        services.submit_application(actor=officer, loan_id=loan.pk)
    except DomainError as exc:
        stdout.write(f"Loans demo: skipped the asset loan for {borrower}: {exc}")
        return 0
    return 1


def _write_off(loan, *, manager, second_manager) -> None:
    """The manager asks; the second manager approves the write_off request (four-eyes)."""
    services.write_off_loan(
        actor=manager, loan_id=loan.pk, reason="No payment in eight months; member left town"
    )
    request = pending_request_for(subject=loan, action_type="write_off")
    if request is not None and second_manager is not None:
        decide_approval(
            request_id=request.pk, actor=second_manager, decision="APPROVED", comment="Agreed: uncollectable"
        )


def _make(
    *,
    status,
    product,
    borrower,
    members,
    term,
    disbursed_on,
    paid,
    purpose,
    officer,
    manager,
    second_manager,
    teller,
):
    savings = _savings(borrower)
    if product.savings_multiple:
        principal = _thousands(min(savings * product.savings_multiple, Decimal("300000")))
    else:
        principal = _thousands(min(max(savings / 2, Decimal("20000")), Decimal("150000")))
    principal = max(principal, product.min_amount)
    loan = services.create_application(
        actor=officer, member=borrower, product=product, principal=principal, term=term, purpose=purpose
    )
    if product.required_guarantors:
        pledge = (principal * product.guarantor_coverage_percent / 100).quantize(Decimal("0.01"))
        guarantor = max((m for m in members if m.pk != borrower.pk), key=lambda m: _savings(m), default=None)
        if guarantor is not None:
            services.add_guarantor(actor=officer, loan_id=loan.pk, guarantor_member=guarantor, amount=pledge)
    if status == Loan.Status.DRAFT:
        return loan
    if status == Loan.Status.WITHDRAWN:
        return services.withdraw_application(
            actor=officer, loan_id=loan.pk, reason="Member found other funds"
        )
    services.submit_application(actor=officer, loan_id=loan.pk)
    if status == Loan.Status.SUBMITTED:
        return loan
    if status == Loan.Status.REJECTED:
        return services.reject_loan(actor=manager, loan_id=loan.pk, reason="Repayment capacity too low")
    services.approve_loan(actor=manager, loan_id=loan.pk, comment="Good savings record")
    if status == Loan.Status.APPROVED:
        return loan
    # Separation of duties (the branch setting): the approver does not disburse.
    disburser = second_manager or manager
    loan = services.disburse_loan(actor=disburser, loan_id=loan.pk, disbursement_date=disbursed_on)
    for row in loan.schedule.order_by("installment_number")[:paid]:
        services.record_repayment(
            actor=teller,
            loan_id=loan.pk,
            amount=row.total_amount,
            source="CASH",
            payment_date=row.due_date,
            idempotency_key=f"demo:{loan.loan_number}:{row.installment_number}",
        )
    if status == Loan.Status.CLOSED:
        quote = settlement_quote(loan=loan, as_of=timezone.localdate())
        services.record_repayment(
            actor=teller,
            loan_id=loan.pk,
            amount=quote.total,
            source="CASH",
            idempotency_key=f"demo:{loan.loan_number}:payoff",
        )
    if status == Loan.Status.WRITTEN_OFF:
        _write_off(loan, manager=manager, second_manager=second_manager)
    return loan
