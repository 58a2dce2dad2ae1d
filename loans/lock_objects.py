"""Every locking queryset of the loans app, defined once.

Lock order everywhere: the loan row, then its schedule rows (by installment), then ledger accounts
(post_entry and place_hold lock those in primary-key order). `of=("self",)` so joins never widen the lock.
"""

from django.db.models import QuerySet

from .models import Guarantor, Loan, LoanPayment, LoanSchedule


def loan_for_update(loan_id) -> QuerySet[Loan]:
    return Loan.objects.filter(pk=loan_id).select_for_update(of=("self",))


def schedule_for_update(loan_id) -> QuerySet[LoanSchedule]:
    return (
        LoanSchedule.objects.filter(loan_id=loan_id)
        .order_by("installment_number")
        .select_for_update(of=("self",))
    )


def guarantors_for_update(loan_id) -> QuerySet[Guarantor]:
    return Guarantor.objects.filter(loan_id=loan_id).order_by("pk").select_for_update(of=("self",))


def payment_for_update(payment_id) -> QuerySet[LoanPayment]:
    return LoanPayment.objects.filter(pk=payment_id).select_for_update(of=("self",))
