from django.urls import path

from . import views

urlpatterns = [
    path("accounts/", views.AccountListCreateView.as_view(), name="account-list"),
    path("accounts/<uuid:pk>/", views.AccountDetailView.as_view(), name="account-detail"),
    path("accounts/<uuid:pk>/deposit/", views.AccountDepositView.as_view(), name="account-deposit"),
    path("accounts/<uuid:pk>/withdraw/", views.AccountWithdrawView.as_view(), name="account-withdraw"),
    path(
        "accounts/<uuid:pk>/transactions/",
        views.AccountTransactionListView.as_view(),
        name="account-transactions",
    ),
    path("transfers/", views.TransferView.as_view(), name="transfer-create"),
    path("transactions/", views.TransactionListView.as_view(), name="transaction-list"),
    path("journal-entries/", views.JournalEntryListView.as_view(), name="journalentry-list"),
    path("journal-entries/<uuid:pk>/", views.JournalEntryDetailView.as_view(), name="journalentry-detail"),
    path(
        "journal-entries/<uuid:pk>/reverse/",
        views.JournalEntryReverseView.as_view(),
        name="journalentry-reverse",
    ),
]
