"""Reads of loans: what a user may see, eligibility, schedule terms, settlement quotes, the timeline.

Settlement quote rule (documented in docs/loan-lifecycle.md): the payoff on a date is
  every unpaid penalty, fee, interest and principal of installments due on or before that date
+ the *current* installment (the first one due after that date) in full: its interest, fees and
  penalties (its interest is not pro-rated)
+ the principal of every later installment (their interest is not charged: it has not accrued).
Repayments are allocated in the same order, so paying exactly the quote closes the loan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F, QuerySet, Sum
from django.utils import timezone

from cooperative.money import money
from cooperative.permissions import scope_queryset
from ledger.models import Account, AccountType

from .models import Guarantor, Loan, LoanEvent, LoanPayment, LoanProduct, LoanSchedule
from .schedule import ScheduleTerms

ZERO = Decimal("0.00")
COMPONENTS = ("penalty", "fee", "interest", "principal")
# Loans that count against a product's "at most N active loans".
ACTIVE_STATUSES = (Loan.Status.APPROVED, Loan.Status.DISBURSED)
# Loans still being applied for (their guarantor pledges reserve the guarantor's savings).
PENDING_STATUSES = (Loan.Status.DRAFT, Loan.Status.SUBMITTED)

# Product fields copied into Loan.schedule_terms at application (the contract the member signed).
SCHEDULE_SETTINGS = {
    "method": "calculation_method",
    "amortization": "amortization",
    "interest_period": "interest_period",
    "days_in_year": "days_in_year",
    "days_in_month": "days_in_month",
    "frequency": "repayment_frequency",
    "grace_principal": "grace_on_principal",
    "grace_interest_payment": "grace_on_interest_payment",
    "grace_interest_free": "interest_free_periods",
    "rounding": "rounding_mode",
    "installment_multiple": "installment_multiple",
}


def loans_visible_to(*, user) -> QuerySet[Loan]:
    """Loans of the user's branches (all with view_all_branches), plus guardian object grants."""
    return scope_queryset(
        Loan.objects.select_related("member", "product", "branch", "loan_officer", "account"), user
    )


# What a loan's page or API answer shows beside the loan itself.
LOAN_PAGE_RELATED = ("member", "product", "branch", "loan_officer", "arrears_bucket")


def loan_rows(*, with_schedule: bool = False) -> QuerySet[Loan]:
    """Every loan (unscoped: scope it, or look one up with get_scoped_object_or_404) with its member,
    product, branch, officer and arrears bucket; `with_schedule` prefetches the installments."""
    rows = Loan.objects.select_related(*LOAN_PAGE_RELATED)
    return rows.prefetch_related("schedule") if with_schedule else rows


def loans_in_scope(*, user, with_schedule: bool = False) -> QuerySet[Loan]:
    """`loan_rows` limited to what `user` may see (their branches, or all; plus object grants)."""
    return scope_queryset(loan_rows(with_schedule=with_schedule), user)


def loan_detail(*, loan_id) -> Loan:
    """One loan with everything its detail answer shows (the schedule included)."""
    return loan_rows(with_schedule=True).get(pk=loan_id)


def loan_products() -> QuerySet[LoanProduct]:
    return LoanProduct.objects.all()


def find_loan_product(product_id) -> LoanProduct | None:
    return LoanProduct.objects.filter(pk=product_id).first()


def loan_schedule_rows(*, loan_id) -> QuerySet[LoanSchedule]:
    return LoanSchedule.objects.filter(loan_id=loan_id).order_by("installment_number")


def loan_payments(*, loan_id) -> QuerySet[LoanPayment]:
    """The loan's repayments, newest first (the model's order), reversed ones included."""
    return LoanPayment.objects.filter(loan_id=loan_id).select_related("journal_entry", "received_by")


def loan_payment(*, payment_id) -> LoanPayment:
    return LoanPayment.objects.select_related("journal_entry", "received_by").get(pk=payment_id)


def loan_guarantors(*, loan_id) -> QuerySet[Guarantor]:
    return Guarantor.objects.filter(loan_id=loan_id).select_related("member")


def loan_guarantor(*, guarantor_id) -> Guarantor:
    return Guarantor.objects.select_related("member").get(pk=guarantor_id)


def loan_summary(loan: Loan) -> dict:
    """Figures for the loan page and the API: outstanding, paid, overdue, next due."""
    rows = list(loan.schedule.all())
    today = timezone.localdate()
    total_due = sum((r.total_amount for r in rows), ZERO)
    total_paid = sum((r.paid_amount for r in rows), ZERO)
    principal_paid = sum((r.principal_paid for r in rows), ZERO)
    overdue = sum(
        (r.total_amount - r.paid_amount for r in rows if not r.is_paid and r.due_date < today), ZERO
    )
    upcoming = next((r for r in rows if not r.is_paid), None)
    disbursed = loan.status in (Loan.Status.DISBURSED, Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF)
    return {
        "principal_outstanding": (loan.principal - principal_paid) if disbursed and rows else ZERO,
        "total_due": total_due,
        "total_paid": total_paid,
        "overdue_amount": overdue,
        "next_due_date": upcoming.due_date if upcoming else None,
        "next_due_amount": (upcoming.total_amount - upcoming.paid_amount) if upcoming else None,
        "installments_paid": sum(1 for r in rows if r.is_paid),
        "installments": len(rows),
    }


def product_schedule_settings(product: LoanProduct) -> dict:
    """The product's schedule settings as JSON-ready values (stored on the loan at application)."""
    settings = {key: getattr(product, attr) for key, attr in SCHEDULE_SETTINGS.items()}
    settings["installment_multiple"] = str(settings["installment_multiple"])
    return {key: (str(value) if not isinstance(value, int) else value) for key, value in settings.items()}


def _terms(settings: dict, *, principal, annual_rate, term, disbursed_on, first_due_on) -> ScheduleTerms:
    values = dict(settings)
    values["installment_multiple"] = Decimal(str(values.get("installment_multiple", "0.01")))
    return ScheduleTerms(
        principal=Decimal(principal),
        annual_rate=Decimal(annual_rate),
        installments=int(term),
        disbursed_on=disbursed_on,
        first_due_on=first_due_on,
        **values,
    )


def schedule_terms_for(
    *, product: LoanProduct, principal, term: int, disbursed_on: date, first_due_on: date | None = None
) -> ScheduleTerms:
    """ScheduleTerms for a product, amount and term (the admin preview and the API's schedule-preview)."""
    return _terms(
        product_schedule_settings(product),
        principal=principal,
        annual_rate=product.interest_rate,
        term=term,
        disbursed_on=disbursed_on,
        first_due_on=first_due_on,
    )


def loan_schedule_terms(*, loan: Loan, disbursed_on: date, first_due_on: date | None = None) -> ScheduleTerms:
    """ScheduleTerms from the settings copied onto the loan at application (not today's product)."""
    settings = loan.schedule_terms or product_schedule_settings(loan.product)
    return _terms(
        settings,
        principal=loan.principal,
        annual_rate=loan.annual_rate,
        term=loan.term,
        disbursed_on=disbursed_on,
        first_due_on=first_due_on,
    )


# --- Eligibility ------------------------------------------------------------------------------------


@dataclass
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    savings: Decimal = ZERO
    shares: Decimal = ZERO
    ceiling: Decimal | None = None
    active_loans: int = 0
    membership_months: int = 0


def months_between(start: date, end: date) -> int:
    """Whole months from `start` to `end` (join 15 Jan -> 14 Feb is 0, 15 Feb is 1)."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return max(months, 0)


def member_balances(*, member) -> tuple[Decimal, Decimal]:
    """(savings, shares): the balances of the member's open savings and shares accounts."""
    savings = shares = ZERO
    rows = Account.objects.filter(
        member=member, type__in=[AccountType.SAVINGS, AccountType.SHARES], status=Account.Status.ACTIVE
    ).values_list("type", "balance")
    for kind, balance in rows:
        if kind == AccountType.SAVINGS:
            savings += balance
        else:
            shares += balance
    return savings, shares


def check_eligibility(
    *, member, product: LoanProduct, principal: Decimal, exclude_loan_id=None, today: date | None = None
) -> Eligibility:
    """May `member` borrow `principal` on `product`? Every reason is listed, in words a member understands."""
    today = today or timezone.localdate()
    reasons: list[str] = []
    if member.status != "ACTIVE":
        reasons.append(f"The member is {member.get_status_display().lower()}, not active.")
    months = months_between(member.join_date, today)
    if months < product.min_membership_months:
        reasons.append(
            f"Membership of {months} month(s); {product.name} needs at least "
            f"{product.min_membership_months} month(s)."
        )
    savings, shares = member_balances(member=member)
    ceiling = None
    if product.savings_multiple > 0:
        base = savings + (shares if product.ceiling_includes_shares else ZERO)
        ceiling = money(base * product.savings_multiple)
        if principal > ceiling:
            basis = "savings and shares" if product.ceiling_includes_shares else "savings"
            reasons.append(
                f"{principal} is above the ceiling of {ceiling} "
                f"({product.savings_multiple} × {basis} of {money(base)})."
            )
    active = Loan.objects.filter(member=member, status__in=ACTIVE_STATUSES)
    if exclude_loan_id is not None:
        active = active.exclude(pk=exclude_loan_id)
    active_loans = active.count()
    if active_loans >= product.max_active_loans:
        reasons.append(
            f"The member already has {active_loans} active loan(s); {product.name} allows at most "
            f"{product.max_active_loans}."
        )
    return Eligibility(
        eligible=not reasons,
        reasons=reasons,
        savings=savings,
        shares=shares,
        ceiling=ceiling,
        active_loans=active_loans,
        membership_months=months,
    )


def required_coverage(*, loan: Loan) -> Decimal:
    return money(loan.principal * loan.product.guarantor_coverage_percent / Decimal(100))


def pending_pledges(*, member, exclude_loan_id=None) -> Decimal:
    """What `member` has pledged on loans still being applied for (not yet holds on their savings)."""
    qs = Guarantor.objects.filter(
        member=member, status=Guarantor.Status.PLEDGED, loan__status__in=PENDING_STATUSES
    )
    if exclude_loan_id is not None:
        qs = qs.exclude(loan_id=exclude_loan_id)
    return qs.aggregate(total=Sum("pledged_amount"))["total"] or ZERO


# --- Outstanding and settlement ------------------------------------------------------------------------


def row_outstanding(row: LoanSchedule, component: str) -> Decimal:
    return getattr(row, f"{component}_amount") - getattr(row, f"{component}_paid")


@dataclass(frozen=True)
class SettlementQuote:
    as_of: date
    principal: Decimal
    interest: Decimal
    fees: Decimal
    penalties: Decimal
    total: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "as_of": self.as_of.isoformat(),
            "principal": str(self.principal),
            "interest": str(self.interest),
            "fees": str(self.fees),
            "penalties": str(self.penalties),
            "total": str(self.total),
        }


def quote_from_rows(rows, as_of: date) -> SettlementQuote:
    """The payoff on `as_of` from schedule rows (see the module docstring for the rule)."""
    sums = dict.fromkeys(COMPONENTS, ZERO)
    current_seen = False
    for row in sorted(rows, key=lambda r: r.installment_number):
        sums["principal"] += row_outstanding(row, "principal")
        if row.due_date <= as_of:
            charged = True
        elif not current_seen and any(row_outstanding(row, c) for c in COMPONENTS):
            charged, current_seen = True, True
        else:
            charged = False
        if charged:
            for component in ("penalty", "fee", "interest"):
                sums[component] += row_outstanding(row, component)
    total = sum(sums.values(), ZERO)
    return SettlementQuote(
        as_of=as_of,
        principal=sums["principal"],
        interest=sums["interest"],
        fees=sums["fee"],
        penalties=sums["penalty"],
        total=total,
    )


def settlement_quote(*, loan: Loan, as_of: date | None = None) -> SettlementQuote:
    """The exact amount that closes `loan` if paid on `as_of` (default today)."""
    as_of = as_of or timezone.localdate()
    return quote_from_rows(list(loan.schedule.all()), as_of)


def principal_outstanding(*, loan: Loan) -> Decimal:
    total = loan.schedule.aggregate(total=Sum(F("principal_amount") - F("principal_paid")))["total"]
    return total or ZERO


@dataclass(frozen=True)
class WriteOffFigures:
    """What a write-off takes off the books and the facts its approver weighs.

    The write-off rule (cash basis, every product): only the principal outstanding is on the books
    (the loan account's balance), so that is the amount written off; the interest, fees and
    penalties due were never recognised as income and stay owed off the books."""

    outstanding: SettlementQuote
    days_past_due: int
    guarantor_holds: Decimal
    recovered_from_guarantors: Decimal
    recovered_after_write_off: Decimal

    @property
    def amount(self) -> Decimal:
        return self.outstanding.principal

    @property
    def not_on_the_books(self) -> Decimal:
        return self.outstanding.interest + self.outstanding.fees + self.outstanding.penalties


def write_off_figures(*, loan: Loan, as_of: date | None = None) -> WriteOffFigures:
    """The amount a write-off of `loan` takes off the books today, by component, with its arrears,
    the guarantors' active holds and what was recovered so far."""
    guarantees = loan.guarantors.select_related("hold")
    holds = sum(
        (
            g.hold.amount
            for g in guarantees
            if g.status == Guarantor.Status.ACTIVE and g.hold_id is not None and g.hold.status == "ACTIVE"
        ),
        ZERO,
    )
    return WriteOffFigures(
        outstanding=settlement_quote(loan=loan, as_of=as_of),
        days_past_due=loan.days_past_due,
        guarantor_holds=holds,
        recovered_from_guarantors=sum((g.recovered_amount for g in guarantees), ZERO),
        recovered_after_write_off=loan.recovered_amount,
    )


def loan_timeline(*, loan: Loan) -> QuerySet[LoanEvent]:
    """Every transition and money event of the loan, oldest first, with who did it."""
    return LoanEvent.objects.filter(loan=loan).select_related("actor").order_by("at", "id")
