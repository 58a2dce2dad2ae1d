"""Applications: create, update, submit, approve (four-eyes), reject, withdraw."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from cooperative.exceptions import ValidationFailed
from cooperative.money import money
from cooperative.sequences import next_value

from ..exceptions import NotEligible
from ..models import Loan, LoanProduct
from ..schedule import ScheduleError, build_schedule
from ..selectors import check_eligibility, product_schedule_settings, schedule_terms_for
from ..workflow import member_eligible
from ._common import (
    clean_amount,
    clean_reason,
    expect_status,
    locked_loan,
    record_event,
    require,
    save_loan,
    today,
    transition,
)
from .decisions import cancel_loan_requests, lock_loan_with_requests, request_loan_approval

LOAN_NUMBER_SEQUENCE = "loan_number"


def processing_fee_for(product: LoanProduct, principal: Decimal) -> Decimal:
    """Percent of principal or a flat amount, rounded with the product's mode."""
    if product.processing_fee_type == LoanProduct.FeeType.FLAT:
        return money(product.processing_fee_value, rounding=product.rounding_mode)
    return money(principal * product.processing_fee_value / Decimal(100), rounding=product.rounding_mode)


def check_product_limits(product: LoanProduct, *, principal: Decimal, term) -> int:
    """The product's amount and term limits: the one rule (and message) every application, change
    and schedule preview meets, in the admin, the API and here. Returns the term as a whole number;
    raises ValidationFailed naming `principal` or `term`."""
    if principal < product.min_amount or principal > product.max_amount:
        raise ValidationFailed(
            f"{product.name} lends between {product.min_amount} and {product.max_amount}; "
            f"{principal} is outside that range.",
            field="principal",
        )
    try:
        term = int(term)
    except (TypeError, ValueError):
        raise ValidationFailed("The term is a whole number of installments.", field="term") from None
    if term < product.min_term or term > product.max_term:
        raise ValidationFailed(
            f"{product.name} runs between {product.min_term} and {product.max_term} installments; "
            f"{term} is outside that range.",
            field="term",
        )
    return term


def _validate_terms(product: LoanProduct, principal: Decimal, term, first_due_date: date | None) -> int:
    if not product.active:
        raise ValidationFailed(f"The product {product.name} is not active.", field="product")
    term = check_product_limits(product, principal=principal, term=term)
    fee = processing_fee_for(product, principal)
    if fee >= principal:
        raise ValidationFailed(f"The processing fee ({fee}) would take the whole loan.", field="principal")
    if first_due_date is not None and first_due_date <= today():
        raise ValidationFailed("The first due date must be in the future.", field="first_due_date")
    # The schedule engine has the last word on the terms (rates, graces, dates).
    build_schedule(
        schedule_terms_for(
            product=product, principal=principal, term=term, disbursed_on=today(), first_due_on=first_due_date
        )
    )
    return term


@transaction.atomic
def create_application(
    *,
    actor,
    member,
    product: LoanProduct,
    principal,
    term: int,
    purpose: str = "",
    loan_officer=None,
    first_due_date: date | None = None,
) -> Loan:
    """A DRAFT loan: limits and product checked, rate and schedule settings copied from the product."""
    require(actor, "loans.add_loan", member.branch_id)
    if member.status == "EXITED":
        raise NotEligible(f"Member {member.member_number} has exited the cooperative.", field="member")
    principal = clean_amount(principal, field="principal")
    term = _validate_terms(product, principal, term, first_due_date)
    loan = Loan(
        loan_number=f"LN{next_value(LOAN_NUMBER_SEQUENCE):08d}",
        member=member,
        product=product,
        branch_id=member.branch_id,
        loan_officer=loan_officer or (actor if actor is not None and actor.pk else None),
        status=Loan.Status.DRAFT,
        purpose=(purpose or "").strip()[:255],
        principal=principal,
        annual_rate=product.interest_rate,
        term=term,
        schedule_terms=product_schedule_settings(product),
        processing_fee=processing_fee_for(product, principal),
        first_due_date=first_due_date,
        created_by=actor if actor is not None and actor.pk else None,
    )
    loan._change_reason = "application created"
    loan.save()
    record_event(
        loan,
        actor=actor,
        action="created",
        comment=f"Application for {principal} over {term} installment(s)",
        metadata={"principal": str(principal), "term": term},
    )
    return loan


@transaction.atomic
def update_application(
    *, actor, loan_id, principal=None, term=None, purpose=None, first_due_date=None
) -> Loan:
    """Change a DRAFT or SUBMITTED application's amount, term, purpose or first due date (limits
    re-checked). A submitted loan's pending approval request is cancelled (its decisions so far no
    longer apply) and a new one asked for the new terms, after the eligibility check."""
    loan = lock_loan_with_requests(loan_id)
    expect_status(loan, "edit", actor=actor)
    product = loan.product
    new_principal = loan.principal if principal is None else clean_amount(principal, field="principal")
    new_term = loan.term if term is None else term
    new_first_due = loan.first_due_date if first_due_date is None else first_due_date
    new_term = _validate_terms(product, new_principal, new_term, new_first_due)
    changes = {}
    for name, value in (
        ("principal", new_principal),
        ("term", new_term),
        ("first_due_date", new_first_due),
        ("purpose", loan.purpose if purpose is None else (purpose or "").strip()[:255]),
    ):
        if getattr(loan, name) != value:
            changes[name] = str(value)
            setattr(loan, name, value)
    loan.processing_fee = processing_fee_for(product, loan.principal)
    loan.annual_rate = product.interest_rate
    loan.schedule_terms = product_schedule_settings(product)
    save_loan(
        loan,
        "application updated",
        ["principal", "term", "first_due_date", "purpose", "processing_fee", "annual_rate", "schedule_terms"],
    )
    if changes:
        record_event(loan, actor=actor, action="updated", from_status=loan.status, metadata=changes)
    if changes and loan.status == Loan.Status.SUBMITTED:
        refusal = member_eligible.refusal(loan, actor=actor, ctx={})
        if refusal is not None:
            raise refusal
        described = ", ".join(f"{name} {value}" for name, value in changes.items())
        cancel_loan_requests(
            loan, actor=actor, reason=f"Application changed ({described}); approval asked again"
        )
        request_loan_approval(loan, actor=actor)
    return loan


@transaction.atomic
def submit_application(*, actor, loan_id, comment: str = "") -> Loan:
    """DRAFT -> SUBMITTED: the member must be eligible and the guarantors must cover the product's %.
    Asks for the loan's approval request (decisions.request_loan_approval). The submitter's comment
    goes on the timeline and, after the purpose, into the request's reason the approvers read."""
    comment = (comment or "").strip()[:255]
    loan = locked_loan(loan_id)
    eligibility = check_eligibility(
        member=loan.member, product=loan.product, principal=loan.principal, exclude_loan_id=loan.pk
    )
    expect_status(loan, "submit", actor=actor, eligibility=eligibility)
    loan.submitted_by = actor if actor is not None and actor.pk else None
    loan.submitted_at = timezone.now()
    transition(
        loan,
        "submit",
        actor=actor,
        comment=comment,
        fields=["submitted_by", "submitted_at"],
        metadata={"savings": str(eligibility.savings), "ceiling": str(eligibility.ceiling)},
    )
    request_loan_approval(loan, actor=actor, comment=comment)
    return loan


@transaction.atomic
def withdraw_application(*, actor, loan_id, reason: str) -> Loan:
    """The applicant withdraws (DRAFT, SUBMITTED or APPROVED): guarantor holds are released and a
    pending approval (of the loan, or of its disbursement) is cancelled."""
    reason = clean_reason(reason, what="the applicant's reason")
    loan = lock_loan_with_requests(loan_id)
    expect_status(loan, "withdraw", actor=actor)
    loan.decision_reason = reason
    transition(
        loan,
        "withdraw",
        actor=actor,
        comment=reason,
        fields=["decision_reason"],
    )
    cancel_loan_requests(loan, actor=actor, reason=f"Application withdrawn: {reason}")
    return loan


__all__ = [
    "ScheduleError",
    "check_product_limits",
    "create_application",
    "processing_fee_for",
    "submit_application",
    "update_application",
    "withdraw_application",
]
