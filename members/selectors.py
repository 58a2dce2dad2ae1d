"""Reads of members: what a user may see, and the search tellers use at the counter."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from cooperative.permissions import scope_queryset

from . import identity
from .models import Member

_MEMBER_NUMBER = re.compile(r"^MEM\d{1,8}$", re.IGNORECASE)
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]{7,20}$")
_ELEVEN_DIGITS = re.compile(r"^\d{11}$")
MAX_NAME_TERMS = 4


def members_visible_to(user) -> QuerySet[Member]:
    """Members of the user's branches (all branches with `view_all_branches`), plus guardian grants."""
    return scope_queryset(Member.objects.select_related("branch"), user)


def search_condition(term: str) -> Q | None:
    """The filter behind `search_members`; None when the term is empty.

    Every branch of the OR is an indexed lookup: exact member number, phone (E.164 after
    normalising whatever format was typed), email and BVN/NIN hash; names use icontains, which a
    pg_trgm GIN index serves on PostgreSQL.
    """
    # NUL cannot reach PostgreSQL in a string literal; a pasted one must not become a 500.
    text = " ".join((term or "").replace("\x00", " ").split())[:100]
    if not text:
        return None
    condition = Q()
    compact = re.sub(r"[\s\-().]", "", text)

    if _MEMBER_NUMBER.match(compact):
        condition |= Q(member_number=f"MEM{int(compact[3:]):05d}") | Q(member_number=compact.upper())
    elif compact.isdigit() and len(compact) <= 5:
        condition |= Q(member_number=f"MEM{int(compact):05d}")

    if _PHONE_LIKE.match(text):
        phone = identity.parse_phone(text)
        if phone:
            condition |= Q(phone=phone)
    if _ELEVEN_DIGITS.match(compact):
        digest = identity.identity_hash(compact)
        condition |= Q(bvn_hash=digest) | Q(nin_hash=digest)
    if "@" in text:
        condition |= Q(email=text.lower())

    words = [w for w in re.split(r"[\s,]+", text) if w and not w.isdigit()][:MAX_NAME_TERMS]
    if words and "@" not in text:
        name_match = Q()
        for word in words:
            name_match &= Q(first_name__icontains=word) | Q(last_name__icontains=word)
        condition |= name_match
    if not condition:
        return Q(pk__in=[])
    return condition


def search_members(queryset: QuerySet[Member], term: str) -> QuerySet[Member]:
    """Member number, any part of the name ("ade", "Adebayo Okafor", "okafor ade"), phone in any
    format (0803..., +234803..., 803..., with spaces or dashes), BVN or NIN (exact), email."""
    condition = search_condition(term)
    return queryset if condition is None else queryset.filter(condition)


def kyc_tier(member_id) -> int:
    """The member's CBN KYC tier, from what has been verified (the ledger's deposit limits ask it).

    There is no separate "BVN verified" flag: a reviewer verifies the KYC as a whole, and the
    identity numbers on file say how far it goes. VERIFIED with BVN and NIN: tier III (full KYC);
    VERIFIED with a BVN only: tier II; anything else (pending, rejected, verified on a NIN alone):
    tier I."""
    row = Member.objects.filter(pk=member_id).values("kyc_status", "bvn_hash", "nin_hash").first()
    if row is None or row["kyc_status"] != Member.KycStatus.VERIFIED or not row["bvn_hash"]:
        return 1
    return 3 if row["nin_hash"] else 2
