"""Serializer fields shared by the domain APIs."""

from __future__ import annotations

from rest_framework import serializers

from cooperative.permissions import scope_queryset
from cooperative.request_context import current_request


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """An id that may name only rows the caller can see (`scope_queryset` of the request's user).

    A row outside the caller's branches is "does not exist", word for word the answer for an id
    that does not exist, so neither the choice nor a later refusal reveals anything about it. Without
    a request in the serializer's context, the request being served is asked (a view that builds the
    serializer itself may pass no context); with neither, nothing of a branch-scoped model is found.
    """

    def get_queryset(self):
        request = self.context.get("request") or current_request()
        queryset = super().get_queryset()
        assert queryset is not None  # every use passes queryset=
        return scope_queryset(queryset, getattr(request, "user", None))
