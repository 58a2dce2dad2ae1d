"""Member factories. `MemberFactory` writes the row directly (fast, for other apps' tests); use
`members.services.register_member` when the registration rules themselves are under test."""

from __future__ import annotations

from datetime import date

import factory
from factory.django import DjangoModelFactory

from cooperative.sequences import next_value
from members import identity
from members.models import Member
from tests.factories import BranchFactory


class MemberFactory(DjangoModelFactory):
    """`MemberFactory(bvn="22212345678", nin="70012345678")` stores them protected, as the service does."""

    class Meta:
        model = Member

    member_number = factory.LazyFunction(lambda: f"MEM{next_value('member_number'):05d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"member{n}@example.ng")
    phone = factory.Sequence(lambda n: f"+234803{n % 10_000_000:07d}")
    date_of_birth = date(1988, 5, 17)
    gender = Member.Gender.FEMALE
    city = "Lagos"
    state = "Lagos"
    branch = factory.SubFactory(BranchFactory, code="MB001", name="Main Branch")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        protected = {}
        for kind in ("bvn", "nin"):
            digits = kwargs.pop(kind, "")
            if digits:
                values = identity.protected_identity(digits)
                protected.update({f"{kind}_{key}": value for key, value in values.items()})
        return super()._create(model_class, *args, **{**kwargs, **protected})
