"""Loans in the admin: products (settings in fieldsets, with a sample schedule), the application
form (member autocomplete, eligibility and a live schedule preview), the loan page (summary,
schedule with totals, repayments, guarantors, holds, timeline) with buttons for every lifecycle
step, and the portfolio reports page.

Every change goes through `loans.services`; the admin collects input, asks for confirmation where
money moves, and turns a `DomainError` into a form error (never a 500).

Modules by concern: products (products, arrears buckets), loan_pages (LoanAdmin: list and page),
panels (the page's read-only tables), lifecycle (buttons and one view per step), application (the
add view and its JSON helpers), reports, filters, common. Importing this package registers every
ModelAdmin (admin autodiscovery imports `loans.admin`).
"""

from . import loan_pages, products  # noqa: F401  (registration)
