"""A paginator for lists over tables of millions of rows (admin changelists, API lists).

`SELECT COUNT(*)` has to visit every matching row, so on 2 million legs or 100,000 members it
costs more than the page itself. This paginator counts:
- an unfiltered list (no WHERE clause): PostgreSQL's own estimate of the table's size
  (`pg_class.reltuples`, kept by ANALYZE/autovacuum) when the table is big; exact otherwise;
- a filtered list: exactly, but at most COUNT_CAP rows (`SELECT COUNT(*) FROM (… LIMIT cap+1)`),
  so a filter that matches a million rows still costs one bounded query. Past the cap the count
  reads COUNT_CAP and the pages beyond it are not linked (a search or filter narrows it down).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property

from .api.pagination import PageNumberPagination

ESTIMATE_ABOVE = 10_000  # tables estimated at more rows than this are not counted exactly
COUNT_CAP = 10_000


def _estimated_rows(queryset) -> int | None:
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list  # a QuerySet, or a plain list (no .query)
        query = getattr(queryset, "query", None)
        if query is None:  # a plain list
            return len(queryset)
        if not query.where and not query.distinct:
            estimate = _estimated_rows(queryset)
            if estimate is not None and estimate > ESTIMATE_ABOVE:
                return estimate
            return queryset.count()
        return min(queryset.order_by()[: COUNT_CAP + 1].count(), COUNT_CAP)


class EstimatedPageNumberPagination(PageNumberPagination):
    """The API's page-number pagination over this paginator: `count` is the planner's estimate for an
    unfiltered list of a big table, and exact up to COUNT_CAP for a filtered one."""

    django_paginator_class = EstimatedCountPaginator
