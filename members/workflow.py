"""A member's KYC review as a table: members.services checks every KYC status change against it.

docs/workflows.md is generated from it (`python manage.py workflow_docs`).
"""

from __future__ import annotations

from cooperative.exceptions import Conflict, NotAllowed, ValidationFailed
from cooperative.permissions import require_permission
from cooperative.workflow import InvalidTransition, StateMachine, Transition, guard, register

from .models import Member

K = Member.KycStatus


def authorize(actor, permission: str, member: Member) -> None:
    """Permission and branch checks (the same as members.services makes). `actor=None` is the system."""
    require_permission(actor, permission, branch_id=member.branch_id, subject="member", field="branch")


@guard("a named reviewer (never the system)", error=NotAllowed)
def named_reviewer(member: Member, *, actor, **ctx) -> str | None:
    return None if actor is not None and actor.pk else "A KYC decision needs a named reviewer."


@guard("four-eyes: not the person who registered the member", error=NotAllowed, code="FourEyes")
def not_the_registrar(member: Member, *, actor, **ctx) -> str | None:
    if member.created_by_id is not None and actor is not None and member.created_by_id == actor.pk:
        return f"You registered member {member.member_number}; another colleague must review their KYC."
    return None


@guard("the member has not exited", error=Conflict)
def not_exited(member: Member, **ctx) -> str | None:
    if member.status == Member.Status.EXITED:
        return f"Member {member.member_number} has exited."
    return None


@guard("a BVN or NIN is recorded", error=ValidationFailed, field="bvn")
def identity_recorded(member: Member, **ctx) -> str | None:
    if member.bvn_hash or member.nin_hash:
        return None
    return "Record the member's BVN or NIN before verifying their KYC."


REVIEW_GUARDS = (named_reviewer, not_the_registrar, not_exited)

KYC_MACHINE = register(
    StateMachine(
        name="member_kyc",
        model="members.Member",
        field="kyc_status",
        states=Member.KycStatus,
        initial=K.PENDING,
        title="Member KYC",
        description=(
            "The review of a member's identity (BVN/NIN, ID documents). A verified review re-opens "
            "by itself when the member's identity details change."
        ),
        plural="KYC records",
        subject=lambda member: f"Member {member.member_number}'s KYC",
        authorize=authorize,
        error=InvalidTransition,
        transitions=[
            Transition(
                "verify",
                (K.PENDING, K.REJECTED),
                K.VERIFIED,
                permission="members.verify_kyc",
                guards=(*REVIEW_GUARDS, identity_recorded),
                verb="verified",
                description="The reviewer confirms the identity.",
            ),
            Transition(
                "reject",
                (K.PENDING,),
                K.REJECTED,
                permission="members.verify_kyc",
                guards=REVIEW_GUARDS,
                verb="rejected",
                description="The reviewer refuses it, with a reason kept on the member.",
                hint="Changing the member's identity details re-opens a verified KYC for review.",
            ),
            Transition(
                "reopen",
                (K.VERIFIED, K.REJECTED),
                K.PENDING,
                verb="re-opened",
                description="A change of name, date of birth, BVN or NIN sends the KYC back for review.",
            ),
        ],
    )
)
