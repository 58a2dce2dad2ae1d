"""The KYC review's state machine (members/workflow.py) drives verify_kyc / reject_kyc / re-opening."""

from __future__ import annotations

import pytest

from cooperative.exceptions import Conflict, NotAllowed
from cooperative.workflow import InvalidTransition
from members import services
from members.models import Member
from members.workflow import KYC_MACHINE

pytestmark = pytest.mark.django_db


def test_the_table_covers_every_kyc_status():
    assert set(KYC_MACHINE.states) == set(Member.KycStatus.values)
    assert {t.name: (t.sources, t.target) for t in KYC_MACHINE.transitions} == {
        "verify": (("PENDING", "REJECTED"), "VERIFIED"),
        "reject": (("PENDING",), "REJECTED"),
        "reopen": (("VERIFIED", "REJECTED"), "PENDING"),
    }


def test_rejecting_a_verified_kyc_is_a_409_naming_the_way_back(register, manager):
    member = register(bvn="22212345678")
    services.verify_kyc(actor=manager, member_id=member.pk)
    with pytest.raises(InvalidTransition) as refused:
        services.reject_kyc(actor=manager, member_id=member.pk, reason="Second thoughts")
    assert refused.value.status == 409
    assert refused.value.message == (
        f"Member {member.member_number}'s KYC is verified; only pending KYC records can be rejected. "
        "Possible now: reopen. Changing the member's identity details re-opens a verified KYC for review."
    )


def test_a_rejected_kyc_can_be_verified_after_a_fix(register, manager):
    member = register(bvn="22212345678")
    services.reject_kyc(actor=manager, member_id=member.pk, reason="Photo unclear")
    verified = services.verify_kyc(actor=manager, member_id=member.pk)
    assert verified.kyc_status == Member.KycStatus.VERIFIED
    assert verified.kyc_rejection_reason == ""


def test_an_identity_change_reopens_through_the_table(register, manager, teller):
    member = register(bvn="22212345678")
    services.verify_kyc(actor=manager, member_id=member.pk)
    reopened = services.update_member(actor=teller, member_id=member.pk, last_name="Okafor-Bello")
    assert reopened.kyc_status == Member.KycStatus.PENDING
    assert reopened.kyc_reviewed_by is None
    assert reopened.history.latest().history_change_reason == "identity changed; KYC back to pending"
    # a profile change that is not identity leaves a pending review alone
    again = services.update_member(actor=teller, member_id=member.pk, occupation="Trader")
    assert again.kyc_status == Member.KycStatus.PENDING


def test_the_system_never_decides_kyc(register):
    member = register(bvn="22212345678")
    with pytest.raises(NotAllowed, match="named reviewer"):
        services.reject_kyc(actor=None, member_id=member.pk, reason="No")
    assert Member.objects.get(pk=member.pk).kyc_status == Member.KycStatus.PENDING


def test_an_exited_members_kyc_is_not_decided(register, manager):
    member = register(bvn="22212345678")
    services.exit_member(actor=manager, member_id=member.pk, reason="Relocated")
    with pytest.raises(Conflict, match="has exited"):
        services.verify_kyc(actor=manager, member_id=member.pk)
