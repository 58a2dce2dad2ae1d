"""EstimatedCountPaginator: exact small counts, capped filtered counts, planner estimates for big tables."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cooperative import pagination
from cooperative.pagination import EstimatedCountPaginator
from members.models import Member
from tests.ledger.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def five(branch):
    return [make_member(branch) for _ in range(5)]


def test_small_tables_are_counted_exactly(five):
    assert EstimatedCountPaginator(Member.objects.all(), 2).count == 5
    assert EstimatedCountPaginator(Member.objects.filter(pk=five[0].pk), 2).count == 1
    assert EstimatedCountPaginator([1, 2, 3], 2).count == 3


def test_a_filtered_count_stops_at_the_cap(five, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 3)
    paginator = EstimatedCountPaginator(Member.objects.filter(status="ACTIVE"), 2)
    assert paginator.count == 3
    assert paginator.num_pages == 2


def test_an_unfiltered_big_table_uses_the_planner_estimate(five, monkeypatch):
    monkeypatch.setattr(pagination, "ESTIMATE_ABOVE", 0)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member")
    with CaptureQueriesContext(connection) as captured:
        count = EstimatedCountPaginator(Member.objects.all(), 2).count
    assert count == 5
    counted = any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    # PostgreSQL: read from pg_class, no COUNT(*); SQLite keeps no estimate, so it counts.
    assert counted is (connection.vendor != "postgresql")
