"""The loan lifecycle as staff see it: application, submission, four-eyes approval, disbursement,
repayment to closure, withdrawal and rejection, each step on the loan's timeline."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from cooperative.exceptions import ValidationFailed
from ledger.models import Account, JournalEntry, Side
from ledger.selectors import ledger_discrepancies
from loans import services
from loans.exceptions import FourEyesViolation, InvalidTransition, LoanNotPermitted, NotEligible
from loans.models import Loan
from loans.selectors import loan_timeline, settlement_quote
from tests.loans.factories import LoanProductFactory, make_loan, make_member, savings_of

pytestmark = pytest.mark.django_db
D = Decimal


def no_discrepancies() -> bool:
    return all(not found for found in ledger_discrepancies().values())


def test_happy_path_from_application_to_closure(
    branch, officer, manager, manager2, teller, product, borrower
):
    # given a member with 200,000 savings and a 12% product with a 1% processing fee
    product.processing_fee_value = D("1.0000")
    product.save()
    # when the officer takes the application and submits it
    loan = services.create_application(
        actor=officer,
        member=borrower,
        product=product,
        principal=D("100000.00"),
        term=12,
        purpose="Shop stock",
    )
    assert loan.status == Loan.Status.DRAFT
    assert loan.loan_number.startswith("LN")
    assert loan.processing_fee == D("1000.00")
    services.submit_application(actor=officer, loan_id=loan.pk)
    # and the manager approves it and another manager disburses it (separation of duties)
    services.approve_loan(actor=manager, loan_id=loan.pk, comment="Good record")
    loan = services.disburse_loan(actor=manager2, loan_id=loan.pk)
    # then the member's savings received the principal less the fee, and 12 installments are due
    assert loan.status == Loan.Status.DISBURSED
    assert savings_of(borrower).balance == D("299000.00")
    assert Account.objects.get(pk=loan.account_id).balance == D("100000.00")
    assert loan.schedule.count() == 12
    first = loan.schedule.get(installment_number=1)
    assert (first.principal_amount, first.interest_amount) == (D("7884.88"), D("1000.00"))
    entry = loan.disbursement_entry
    assert entry.kind == JournalEntry.Kind.LOAN_DISBURSEMENT
    assert sum(leg.amount for leg in entry.legs.filter(type=Side.DEBIT)) == D("100000.00")
    # when the member pays the whole settlement quote at the counter
    quote = settlement_quote(loan=loan, as_of=date.today())
    payment = services.record_repayment(actor=teller, loan_id=loan.pk, amount=quote.total, source="CASH")
    # then the loan is closed, its account is empty and the books balance
    loan.refresh_from_db()
    assert loan.status == Loan.Status.CLOSED
    assert Account.objects.get(pk=loan.account_id).balance == D("0.00")
    assert payment.principal_portion == D("100000.00")
    assert payment.interest_portion == D("1000.00")
    assert all(row.is_paid for row in loan.schedule.all())
    assert [e.action for e in loan_timeline(loan=loan)] == [
        "created",
        "submitted",
        "approved",
        "disbursed",
        "repayment",
        "closed",
    ]
    assert no_discrepancies()


def test_timeline_records_who_and_why(officer, manager, product, borrower):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.SUBMITTED
    )
    services.reject_loan(actor=manager, loan_id=loan.pk, reason="Income too irregular")
    event = loan_timeline(loan=loan).last()
    assert (event.action, event.actor, event.from_status, event.to_status, event.comment) == (
        "rejected",
        manager,
        "SUBMITTED",
        "REJECTED",
        "Income too irregular",
    )
    assert Loan.objects.get(pk=loan.pk).history.latest().history_change_reason == "Income too irregular"


# --- Bad input at application ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "term", "field", "words"),
    [
        ("9999.99", 12, "principal", "between 10000.00 and 1000000.00"),
        ("1000000.01", 12, "principal", "outside that range"),
        ("50000.00", 0, "term", "between 1 and 24 installments"),
        ("50000.00", 25, "term", "outside that range"),
        ("-5", 12, "principal", "greater than zero"),
        ("12.345", 12, "principal", "two decimal places"),
        ("lots", 12, "principal", "valid amount"),
        ("1e400", 12, "principal", "too large"),  # past 28 digits: once decimal.InvalidOperation, a 500
        ("1" * 40, 12, "principal", "too large"),
    ],
)
def test_amount_or_term_outside_the_product_is_refused(
    officer, product, borrower, principal, term, field, words
):
    with pytest.raises(ValidationFailed) as refused:
        services.create_application(
            actor=officer, member=borrower, product=product, principal=principal, term=term
        )
    assert refused.value.field == field
    assert words in refused.value.message
    assert not Loan.objects.exists()


def test_inactive_product_is_refused(officer, borrower):
    product = LoanProductFactory(active=False, name="Old product")
    with pytest.raises(ValidationFailed) as refused:
        services.create_application(
            actor=officer, member=borrower, product=product, principal="50000", term=6
        )
    assert refused.value.field == "product"
    assert "Old product is not active" in refused.value.message


def test_member_above_the_savings_ceiling_is_not_eligible_with_the_reason(branch, officer):
    # given a product lending at most 2 x savings, and a member with 30,000 savings
    product = LoanProductFactory(savings_multiple=D("2"))
    member = make_member(branch, savings="30000.00")
    loan = services.create_application(
        actor=officer, member=member, product=product, principal="70000", term=6
    )
    # when the officer submits
    with pytest.raises(NotEligible) as refused:
        services.submit_application(actor=officer, loan_id=loan.pk)
    # then the refusal says why, and the loan stays a draft
    assert "above the ceiling of 60000.00" in refused.value.message
    assert refused.value.field == "member"
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.DRAFT


def test_shares_count_towards_the_ceiling_when_the_product_says_so(branch, officer):
    product = LoanProductFactory(savings_multiple=D("2"), ceiling_includes_shares=True)
    member = make_member(branch, savings="30000.00", shares="10000.00")
    loan = services.create_application(
        actor=officer, member=member, product=product, principal="80000", term=6
    )
    assert services.submit_application(actor=officer, loan_id=loan.pk).status == Loan.Status.SUBMITTED


def test_new_member_is_not_eligible_before_the_minimum_membership(branch, officer):
    product = LoanProductFactory(min_membership_months=6, name="Members of six months")
    member = make_member(branch, savings="100000.00", months=2)
    loan = services.create_application(
        actor=officer, member=member, product=product, principal="20000", term=6
    )
    with pytest.raises(NotEligible) as refused:
        services.submit_application(actor=officer, loan_id=loan.pk)
    assert "needs at least 6 month(s)" in refused.value.message


def test_too_many_active_loans_is_not_eligible(officer, manager, product, borrower):
    make_loan(member=borrower, product=product, officer=officer, manager=manager)
    second = services.create_application(
        actor=officer, member=borrower, product=product, principal="20000", term=6
    )
    with pytest.raises(NotEligible) as refused:
        services.submit_application(actor=officer, loan_id=second.pk)
    assert "already has 1 active loan(s)" in refused.value.message


def test_suspended_member_is_not_eligible(branch, officer, product):
    member = make_member(branch, savings="100000.00", status="SUSPENDED")
    loan = services.create_application(
        actor=officer, member=member, product=product, principal="20000", term=6
    )
    with pytest.raises(NotEligible, match="suspended, not active"):
        services.submit_application(actor=officer, loan_id=loan.pk)


def test_update_application_rechecks_the_limits(officer, product, borrower):
    loan = services.create_application(
        actor=officer, member=borrower, product=product, principal="20000", term=6
    )
    updated = services.update_application(actor=officer, loan_id=loan.pk, principal="30000", term=9)
    assert (updated.principal, updated.term) == (D("30000.00"), 9)
    with pytest.raises(ValidationFailed) as refused:
        services.update_application(actor=officer, loan_id=loan.pk, term=48)
    assert refused.value.field == "term"
    assert [e.action for e in loan_timeline(loan=loan)] == ["created", "updated"]


def test_accountant_cannot_take_applications_and_other_branches_are_out_of_reach(
    accountant, make_staff, other_branch, product, borrower
):
    with pytest.raises(LoanNotPermitted):
        services.create_application(
            actor=accountant, member=borrower, product=product, principal="20000", term=6
        )
    abuja_officer = make_staff("LOAN_OFFICER", other_branch, email="abuja.officer@test.ng")
    with pytest.raises(LoanNotPermitted, match="branch you do not work in"):
        services.create_application(
            actor=abuja_officer, member=borrower, product=product, principal="20000", term=6
        )


def test_a_teller_takes_and_submits_an_application_at_the_counter(teller, manager, product, borrower):
    # DESIGN §1: branch staff take loan applications; the manager decides them
    loan = services.create_application(
        actor=teller, member=borrower, product=product, principal="20000", term=6
    )
    services.submit_application(actor=teller, loan_id=loan.pk)
    with pytest.raises(LoanNotPermitted, match="approve_loan"):
        services.approve_loan(actor=teller, loan_id=loan.pk)
    assert services.approve_loan(actor=manager, loan_id=loan.pk).status == Loan.Status.APPROVED


# --- Four-eyes -------------------------------------------------------------------------------------


def test_creator_cannot_approve_even_with_the_permission(make_staff, branch, product, borrower):
    # given a manager who both creates and submits an application (managers may be given both)
    boss = make_staff("MANAGER", branch, email="boss@test.ng")
    boss.groups.add(*make_staff("LOAN_OFFICER", branch, email="x@test.ng").groups.all())
    boss = type(boss).objects.get(pk=boss.pk)
    loan = services.create_application(
        actor=boss, member=borrower, product=product, principal="20000", term=6
    )
    services.submit_application(actor=boss, loan_id=loan.pk)
    # then they can neither approve nor reject it
    with pytest.raises(FourEyesViolation, match="someone else must decide"):
        services.approve_loan(actor=boss, loan_id=loan.pk)
    with pytest.raises(FourEyesViolation):
        services.reject_loan(actor=boss, loan_id=loan.pk, reason="no")
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.SUBMITTED


def test_submitter_cannot_approve(make_staff, branch, officer, product, borrower):
    # given an officer creates and a manager-officer submits
    submitter = make_staff("MANAGER", branch, email="submitter@test.ng")
    submitter.groups.add(*officer.groups.all())
    submitter = type(submitter).objects.get(pk=submitter.pk)
    loan = services.create_application(
        actor=officer, member=borrower, product=product, principal="20000", term=6
    )
    services.submit_application(actor=submitter, loan_id=loan.pk)
    with pytest.raises(FourEyesViolation):
        services.approve_loan(actor=submitter, loan_id=loan.pk)
    # and a third person can
    other = make_staff("MANAGER", branch, email="third@test.ng")
    assert services.approve_loan(actor=other, loan_id=loan.pk).status == Loan.Status.APPROVED


def test_the_system_cannot_approve(officer, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    with pytest.raises(FourEyesViolation):
        services.approve_loan(actor=None, loan_id=loan.pk)


def test_officer_without_approve_permission_cannot_approve(officer, make_staff, branch, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    colleague = make_staff("LOAN_OFFICER", branch, email="colleague@test.ng")
    with pytest.raises(LoanNotPermitted, match="approve_loan"):
        services.approve_loan(actor=colleague, loan_id=loan.pk)


# --- States ----------------------------------------------------------------------------------------


def test_steps_out_of_order_are_refused(officer, manager, product, borrower):
    draft = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.DRAFT)
    with pytest.raises(InvalidTransition, match="only submitted loans can be approved"):
        services.approve_loan(actor=manager, loan_id=draft.pk)
    with pytest.raises(InvalidTransition, match="only approved loans can be disbursed"):
        services.disburse_loan(actor=manager, loan_id=draft.pk)
    rejected = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.REJECTED
    )
    with pytest.raises(InvalidTransition):
        services.withdraw_application(actor=officer, loan_id=rejected.pk, reason="too late")


def test_reject_needs_a_reason(officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, status=Loan.Status.SUBMITTED)
    with pytest.raises(ValidationFailed) as refused:
        services.reject_loan(actor=manager, loan_id=loan.pk, reason="  ")
    assert refused.value.field == "reason"


def test_withdrawn_application_is_recorded(officer, manager, product, borrower):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.APPROVED
    )
    withdrawn = services.withdraw_application(actor=officer, loan_id=loan.pk, reason="Found a grant")
    assert withdrawn.status == Loan.Status.WITHDRAWN
    assert loan_timeline(loan=loan).last().comment == "Found a grant"


def test_disbursing_twice_is_impossible(officer, manager, product, borrower):
    loan = make_loan(member=borrower, product=product, officer=officer, manager=manager)
    with pytest.raises(InvalidTransition, match="already been disbursed"):
        services.disburse_loan(actor=manager, loan_id=loan.pk)
    assert JournalEntry.objects.filter(kind=JournalEntry.Kind.LOAN_DISBURSEMENT).count() == 1


def test_back_dated_disbursement_gives_overdue_installments(officer, manager, product, borrower):
    loan = make_loan(
        member=borrower,
        product=product,
        officer=officer,
        manager=manager,
        disbursed_on=date.today() - timedelta(days=100),
    )
    assert loan.disbursement_entry.value_date == date.today() - timedelta(days=100)
    assert loan.schedule.filter(due_date__lt=date.today()).count() == 3
    loan2 = make_loan(
        member=make_member(loan.branch, savings="100000"),
        product=product,
        officer=officer,
        manager=manager,
        status=Loan.Status.APPROVED,
    )
    with pytest.raises(ValidationFailed) as refused:
        services.disburse_loan(
            actor=manager, loan_id=loan2.pk, disbursement_date=date.today() + timedelta(days=1)
        )
    assert refused.value.field == "disbursement_date"


def test_member_without_savings_account_cannot_receive_the_loan(officer, manager, product, borrower):
    loan = make_loan(
        member=borrower, product=product, officer=officer, manager=manager, status=Loan.Status.APPROVED
    )
    Account.objects.filter(member=borrower).update(status=Account.Status.CLOSED)
    with pytest.raises(ValidationFailed, match="needs an active savings account"):
        services.disburse_loan(actor=manager, loan_id=loan.pk)
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.APPROVED


def test_eligibility_shows_savings_ceiling_and_active_loans(branch, officer, manager, product):
    from loans.selectors import check_eligibility

    capped = LoanProductFactory(savings_multiple=D("2"), ceiling_includes_shares=True, name="Capped")
    member = make_member(branch, savings="40000.00", shares="10000.00", months=7)
    result = check_eligibility(member=member, product=capped, principal=D("90000.00"))
    assert result.eligible
    assert (result.savings, result.shares, result.ceiling) == (D("40000.00"), D("10000.00"), D("100000.00"))
    assert (result.active_loans, result.membership_months, result.reasons) == (0, 7, [])
