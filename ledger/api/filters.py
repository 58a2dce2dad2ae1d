"""Query filters of the ledger API. Bad values (a date that is not a date, an amount that is not a
number) answer 400 naming the parameter."""

from __future__ import annotations

import django_filters

from ..models import Account, JournalEntry, Side, Transaction
from .serializers import OPENABLE_TYPES


class AccountFilter(django_filters.FilterSet):
    member = django_filters.UUIDFilter(field_name="member_id", help_text="Member id.")
    type = django_filters.ChoiceFilter(
        choices=[(t.value, t.label) for t in OPENABLE_TYPES] + [("LOAN", "Loan")]
    )
    status = django_filters.ChoiceFilter(choices=Account.Status.choices)
    branch = django_filters.UUIDFilter(field_name="branch_id", help_text="Branch id.")

    class Meta:
        model = Account
        fields = ("member", "type", "status", "branch")


class AccountTransactionFilter(django_filters.FilterSet):
    """Filters of one account's movements."""

    date_from = django_filters.DateFilter(
        field_name="value_date", lookup_expr="gte", help_text="Value date on or after (YYYY-MM-DD)."
    )
    date_to = django_filters.DateFilter(
        field_name="value_date", lookup_expr="lte", help_text="Value date on or before (YYYY-MM-DD)."
    )
    type = django_filters.ChoiceFilter(choices=Side.choices)
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte")
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte")
    reconciliation_status = django_filters.ChoiceFilter(choices=Transaction.Reconciliation.choices)
    kind = django_filters.ChoiceFilter(field_name="entry__kind", choices=JournalEntry.Kind.choices)

    class Meta:
        model = Transaction
        fields: tuple[str, ...] = (
            "date_from",
            "date_to",
            "type",
            "amount_min",
            "amount_max",
            "reconciliation_status",
            "kind",
        )


class TransactionFilter(AccountTransactionFilter):
    """Filters of every visible movement: the account filters plus branch and account."""

    branch = django_filters.UUIDFilter(field_name="branch_id", help_text="Branch id.")
    account = django_filters.UUIDFilter(field_name="account_id", help_text="Account id.")

    class Meta(AccountTransactionFilter.Meta):
        fields = (*AccountTransactionFilter.Meta.fields, "branch", "account")


class JournalEntryFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=JournalEntry.Kind.choices)
    branch = django_filters.UUIDFilter(field_name="branch_id", help_text="Branch id.")
    date_from = django_filters.DateFilter(field_name="value_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="value_date", lookup_expr="lte")
    reference = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = JournalEntry
        fields = ("kind", "branch", "date_from", "date_to", "reference")
