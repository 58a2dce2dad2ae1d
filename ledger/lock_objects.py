"""Every locking queryset of the ledger, defined once: fixed order (pk), lock only the account rows."""

from django.db.models import QuerySet

from .models import Account, Hold


def accounts_for_update(account_ids) -> QuerySet[Account]:
    return Account.objects.filter(pk__in=list(account_ids)).order_by("pk").select_for_update(of=("self",))


def hold_for_update(hold_id) -> QuerySet[Hold]:
    return Hold.objects.filter(pk=hold_id).select_for_update(of=("self",))
