"""Loans API: products (with a schedule preview), loans and their lifecycle actions, schedule,
repayments, guarantors, settlement quotes and portfolio reports.

Every loan lookup goes through the caller's branch scope first (another branch's loan is a 404, like
one that does not exist); then `loans.services` decides (`DomainError` -> 400/403/409 problem).
Repayments are `@idempotent` and need an `Idempotency-Key` header. One module per resource; the
names are re-exported here for `loans.api.urls`.
"""

from .loans import (
    LoanApproveView,
    LoanDetailView,
    LoanDisburseView,
    LoanGuarantorsView,
    LoanListCreateView,
    LoanRejectView,
    LoanRepaymentsView,
    LoanScheduleView,
    LoanSettlementQuoteView,
    LoanSubmitView,
    LoanWithdrawView,
)
from .products import LoanProductDetailView, LoanProductListCreateView, LoanProductSchedulePreviewView
from .reports import LoanReportView

__all__ = [
    "LoanApproveView",
    "LoanDetailView",
    "LoanDisburseView",
    "LoanGuarantorsView",
    "LoanListCreateView",
    "LoanProductDetailView",
    "LoanProductListCreateView",
    "LoanProductSchedulePreviewView",
    "LoanRejectView",
    "LoanRepaymentsView",
    "LoanReportView",
    "LoanScheduleView",
    "LoanSettlementQuoteView",
    "LoanSubmitView",
    "LoanWithdrawView",
]
