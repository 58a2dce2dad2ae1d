"""Query filters of the loans API. Bad values answer 400 naming the parameter."""

from __future__ import annotations

import django_filters

from ..models import Loan, LoanProduct


class LoanProductFilter(django_filters.FilterSet):
    active = django_filters.BooleanFilter()

    class Meta:
        model = LoanProduct
        fields = ("active",)


class LoanFilter(django_filters.FilterSet):
    # distinct=False: status is a column of the loan (no join), and DISTINCT over every column of
    # 30,000 active loans cost 0.5 s a page.
    status = django_filters.MultipleChoiceFilter(choices=Loan.Status.choices, distinct=False)
    branch = django_filters.UUIDFilter(field_name="branch_id", help_text="Branch id.")
    product = django_filters.UUIDFilter(field_name="product_id", help_text="Loan product id.")
    member = django_filters.UUIDFilter(field_name="member_id", help_text="Member id.")
    officer = django_filters.UUIDFilter(field_name="loan_officer_id", help_text="Loan officer (user id).")
    arrears_bucket = django_filters.CharFilter(field_name="arrears_bucket__code", help_text="Bucket code.")
    min_days_past_due = django_filters.NumberFilter(field_name="days_past_due", lookup_expr="gte")

    class Meta:
        model = Loan
        fields = ("status", "branch", "product", "member", "officer", "arrears_bucket", "min_days_past_due")
