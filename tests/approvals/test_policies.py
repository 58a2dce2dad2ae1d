"""Band matching and band validation (pure functions), and the seeded default policies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from approvals.models import ApprovalPolicy
from approvals.policies import Band, matching_band, scope_problems
from approvals.selectors import approval_required

D = Decimal
B1, B2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


def band(low, high=None, *, branch=None, product="", id_=None):
    return Band(
        id=id_ or f"{branch}-{product}-{low}",
        branch_id=branch,
        product_ref=product,
        min_amount=D(low),
        max_amount=D(high) if high is not None else None,
    )


LOANS = [band("0", "500000"), band("500000", "5000000"), band("5000000")]


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0.00", None),  # at the lowest band's lower bound: exclusive, so no approval
        ("0.01", "0"),
        ("500000.00", "0"),  # inclusive upper bound
        ("500000.01", "500000"),
        ("5000000.00", "500000"),
        ("5000000.01", "5000000"),
        ("999999999999.99", "5000000"),  # the open top catches any amount
    ],
)
def test_a_band_matches_above_its_minimum_up_to_and_including_its_maximum(amount, expected):
    # when
    found = matching_band(LOANS, amount=D(amount), branch_id=None)
    # then
    assert (found.min_amount if found else None) == (D(expected) if expected else None)


def test_below_the_lowest_band_needs_no_approval():
    # given withdrawals need approval above 500,000 only
    bands = [band("500000")]
    # then
    assert matching_band(bands, amount=D("500000.00"), branch_id=None) is None
    assert matching_band(bands, amount=D("500000.01"), branch_id=None) is not None


def test_the_most_specific_scope_with_bands_decides_alone():
    # given a band in every scope, each starting at a different amount
    bands = [
        band("100", branch=B1, product="P1"),
        band("200", branch=B1),
        band("300", product="P1"),
        band("400"),
    ]
    # then branch+product > branch > product > all
    assert matching_band(bands, amount=D("150"), branch_id=B1, product_ref="P1").min_amount == D("100")
    assert matching_band(bands, amount=D("250"), branch_id=B1, product_ref="P2").min_amount == D("200")
    assert matching_band(bands, amount=D("350"), branch_id=B2, product_ref="P1").min_amount == D("300")
    assert matching_band(bands, amount=D("450"), branch_id=B2, product_ref="").min_amount == D("400")
    # and below the winning scope's lowest band nothing is needed, even if a broader scope would ask
    assert matching_band(bands, amount=D("150"), branch_id=B1, product_ref="P2") is None


def test_a_malformed_scope_still_never_lets_a_large_amount_through():
    # given a closed top (the admin refuses it, but the row might be edited elsewhere)
    bands = [band("0", "1000")]
    # then an amount above it still matches the highest band
    assert matching_band(bands, amount=D("5000"), branch_id=None).min_amount == D("0")


def test_well_formed_scope_has_no_problems():
    assert scope_problems(LOANS) == []
    assert scope_problems([band("500000")]) == []


@pytest.mark.parametrize(
    ("bands", "words"),
    [
        ([band("0", "600000"), band("500000")], "overlap"),
        ([band("0"), band("500000")], "overlap"),
        ([band("0", "400000"), band("500000")], "Gap between ₦400,000.00 and ₦500,000.00"),
        ([band("0", "500000")], "highest band ends at ₦500,000.00"),
    ],
)
def test_overlaps_gaps_and_a_closed_top_are_problems(bands, words):
    problems = scope_problems(bands)
    assert any(words in problem for problem in problems), problems


@pytest.mark.django_db
def test_default_policies_are_seeded_for_every_branch_and_product():
    # then the migration created the global bands with their levels
    def levels(action_type, low):
        policy = ApprovalPolicy.objects.get(
            action_type=action_type, branch__isnull=True, product_ref="", min_amount=D(low)
        )
        return policy.max_amount, [
            (lvl.roles, lvl.required_approvals) for lvl in policy.levels.order_by("order")
        ]

    assert levels("loan_approval", "0") == (D("500000"), [(["MANAGER"], 1)])
    assert levels("loan_approval", "500000") == (D("5000000"), [(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2)])
    assert levels("loan_approval", "5000000") == (
        None,
        [(["MANAGER"], 1), (["CREDIT_COMMITTEE"], 2), (["ADMIN"], 1)],
    )
    assert levels("withdrawal", "500000") == (None, [(["MANAGER"], 1)])
    assert levels("transfer", "1000000") == (None, [(["MANAGER"], 1)])
    for action_type in ("account_closure", "reversal", "write_off"):
        assert levels(action_type, "0") == (None, [(["MANAGER"], 1)])
    assert not ApprovalPolicy.objects.filter(action_type__in=["loan_disbursement", "budget"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action_type", "amount", "needed"),
    [
        ("withdrawal", "500000.00", False),
        ("withdrawal", "500000.01", True),
        ("transfer", "1000000.00", False),
        ("transfer", "1000000.01", True),
        ("account_closure", "0.00", False),  # a zero-balance closure needs none
        ("account_closure", "0.01", True),
        ("reversal", "10.00", True),
        ("loan_disbursement", "99999999.00", False),
    ],
)
def test_default_thresholds(action_type, amount, needed, branch):
    assert approval_required(action_type=action_type, amount=D(amount), branch_id=branch.pk) is needed
