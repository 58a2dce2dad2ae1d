import io

import pytest

from members import demo
from members.models import Member

pytestmark = pytest.mark.django_db


def test_demo_seed_registers_ten_members_once(branch, other_branch, teller, manager):
    # given the demo staff
    staff = {"TELLER": teller, "MANAGER": manager}
    # when the seeder runs twice
    demo.seed(branch=branch, other_branch=other_branch, staff=staff, stdout=io.StringIO())
    demo.seed(branch=branch, other_branch=other_branch, staff=staff, stdout=io.StringIO())
    # then there are ten members in the Main Branch, numbered, six with KYC verified by the manager
    members = list(Member.objects.order_by("member_number"))
    assert len(members) == 10
    assert [m.member_number for m in members] == [f"MEM{i:05d}" for i in range(1, 11)]
    assert {m.branch for m in members} == {branch}
    assert all(m.phone.startswith("+234") for m in members)
    verified = [m for m in members if m.kyc_status == "VERIFIED"]
    assert len(verified) == 6
    assert {m.kyc_reviewed_by for m in verified} == {manager}


def test_demo_seeder_is_registered_with_the_seed_command():
    from cooperative import demo as registry

    assert demo.seed in registry.seeders()
