"""The project's URLs plus the large-cash report where the journal entries' admin will serve it
(the lead wires `large_cash_urls` into `JournalEntryAdmin.get_urls`; until then tests use this)."""

from django.contrib import admin
from django.urls import include, path

from cooperative.urls import urlpatterns as project_urlpatterns
from ledger.admin_large_cash import large_cash_urls

urlpatterns = [
    path("admin/ledger/journalentry/", include(large_cash_urls(admin.site))),
    *project_urlpatterns,
]
