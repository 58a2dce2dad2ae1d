import pytest
from django.db import connection

from members.models import Member
from members.selectors import members_visible_to, search_members
from tests.members.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(branch):
    return {
        "ade": MemberFactory(
            branch=branch,
            first_name="Adebayo",
            last_name="Ogunleye",
            phone="+2348031234567",
            email="ade.ogunleye@example.ng",
            bvn="22212345678",
            nin="70099990000",
        ),
        "chi": MemberFactory(
            branch=branch,
            first_name="Chiamaka",
            last_name="Adeyemi",
            phone="+2348062345602",
            email="chi@example.ng",
        ),
        "emeka": MemberFactory(
            branch=branch,
            first_name="Emeka",
            last_name="Okonkwo",
            phone="+2347035678905",
            email="emeka@example.ng",
        ),
    }


def _found(term):
    return sorted(m.first_name for m in search_members(Member.objects.all(), term))


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("08031234567", ["Adebayo"]),
        ("0803 123 4567", ["Adebayo"]),
        ("0803-123-4567", ["Adebayo"]),
        ("+2348031234567", ["Adebayo"]),
        ("+234 803 123 4567", ["Adebayo"]),
        ("8031234567", ["Adebayo"]),
        ("2348031234567", ["Adebayo"]),
        ("ogunleye", ["Adebayo"]),
        ("ADEBAYO", ["Adebayo"]),
        ("ade", ["Adebayo", "Chiamaka"]),  # Adebayo and Adeyemi
        ("yemi", ["Chiamaka"]),
        ("Adebayo Ogunleye", ["Adebayo"]),
        ("ogunleye adebayo", ["Adebayo"]),
        ("chiamaka ade", ["Chiamaka"]),
        ("22212345678", ["Adebayo"]),
        ("222 1234 5678", ["Adebayo"]),
        ("70099990000", ["Adebayo"]),
        ("ADE.OGUNLEYE@example.ng", ["Adebayo"]),
        ("nobody", []),
        ("22200000000", []),
    ],
)
def test_search_finds_members_however_the_teller_types(people, term, expected):
    assert _found(term) == expected


def test_search_by_member_number_with_or_without_prefix(people):
    number = people["emeka"].member_number
    assert _found(number) == ["Emeka"]
    assert _found(number.lower()) == ["Emeka"]
    assert _found(str(int(number[3:]))) == ["Emeka"]


def test_empty_search_returns_everything(people):
    assert len(_found("   ")) == 3


def test_members_visible_to_is_branch_scoped(member, other_member, teller, auditor):
    assert list(members_visible_to(teller)) == [member]
    assert set(members_visible_to(auditor)) == {member, other_member}


def test_partner_sees_only_granted_members(member, other_member, make_staff):
    from guardian.shortcuts import assign_perm

    partner = make_staff("PARTNER", None, email="partner@bank.ng")
    assert list(members_visible_to(partner)) == []
    assign_perm("members.view_member", partner, other_member)
    assert list(members_visible_to(partner)) == [other_member]


@pytest.mark.postgres
def test_name_search_uses_the_trigram_index_on_postgresql(people):
    # given the planner is told not to scan the table when an index can serve
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = search_members(Member.objects.order_by(), "yemi").query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    # then the name lookups go through the pg_trgm indexes
    assert "member_last_name_trgm_idx" in plan
    assert "member_first_name_trgm_idx" in plan
