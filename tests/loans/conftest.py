"""Fixtures for the loan tests: a loan officer and a manager in the Main Branch, a product, a borrower."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.loans.factories import LoanProductFactory, make_member


@pytest.fixture
def officer(make_staff, branch):
    return make_staff("LOAN_OFFICER", branch, email="officer@test.ng")


@pytest.fixture
def product(db):
    return LoanProductFactory(name="Standard monthly loan")


@pytest.fixture
def borrower(branch):
    return make_member(branch, savings=Decimal("200000.00"), first_name="Chiamaka", last_name="Nwosu")


@pytest.fixture
def manager2(make_staff, branch):
    """A second manager of the Main Branch: approves what the first one asks (write-offs)."""
    return make_staff("MANAGER", branch, email="manager2@test.ng")
