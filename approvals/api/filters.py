"""Query filters of the approvals API. Bad values answer 400 naming the parameter."""

from __future__ import annotations

import django_filters

from ..models import ApprovalRequest
from ..selectors import requests_awaiting


class ApprovalRequestFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ApprovalRequest.Status.choices)
    action_type = django_filters.CharFilter(help_text="e.g. loan_approval, withdrawal.")
    branch = django_filters.UUIDFilter(field_name="branch_id", help_text="Branch id.")
    mine = django_filters.BooleanFilter(
        method="filter_mine", help_text="true: only the requests you may decide now (oldest first)."
    )

    class Meta:
        model = ApprovalRequest
        fields = ("status", "action_type", "branch", "mine")

    def filter_mine(self, queryset, name, value):
        awaiting = requests_awaiting(self.request.user).values("pk")
        return queryset.filter(pk__in=awaiting) if value else queryset.exclude(pk__in=awaiting)
