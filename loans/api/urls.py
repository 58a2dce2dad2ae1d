from django.urls import path

from . import views

urlpatterns = [
    path("loan-products/", views.LoanProductListCreateView.as_view(), name="loanproduct-list"),
    path("loan-products/<uuid:pk>/", views.LoanProductDetailView.as_view(), name="loanproduct-detail"),
    path(
        "loan-products/<uuid:pk>/schedule-preview/",
        views.LoanProductSchedulePreviewView.as_view(),
        name="loanproduct-schedule-preview",
    ),
    path("loans/", views.LoanListCreateView.as_view(), name="loan-list"),
    path("loans/<uuid:pk>/", views.LoanDetailView.as_view(), name="loan-detail"),
    path("loans/<uuid:pk>/submit/", views.LoanSubmitView.as_view(), name="loan-submit"),
    path("loans/<uuid:pk>/approve/", views.LoanApproveView.as_view(), name="loan-approve"),
    path("loans/<uuid:pk>/reject/", views.LoanRejectView.as_view(), name="loan-reject"),
    path("loans/<uuid:pk>/withdraw/", views.LoanWithdrawView.as_view(), name="loan-withdraw"),
    path("loans/<uuid:pk>/disburse/", views.LoanDisburseView.as_view(), name="loan-disburse"),
    path("loans/<uuid:pk>/schedule/", views.LoanScheduleView.as_view(), name="loan-schedule"),
    path("loans/<uuid:pk>/repayments/", views.LoanRepaymentsView.as_view(), name="loan-repayments"),
    path("loans/<uuid:pk>/guarantors/", views.LoanGuarantorsView.as_view(), name="loan-guarantors"),
    path(
        "loans/<uuid:pk>/settlement-quote/",
        views.LoanSettlementQuoteView.as_view(),
        name="loan-settlement-quote",
    ),
    path("loan-reports/<slug:name>/", views.LoanReportView.as_view(), name="loan-report"),
]
