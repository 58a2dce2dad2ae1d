"""Loans planned in memory: state mix, member, schedule (the schedule engine), paid installments."""

from __future__ import annotations

import bisect
import math
from datetime import date, timedelta
from decimal import Decimal

from loans.models import Loan, LoanProduct
from loans.schedule import build_schedule
from loans.selectors import schedule_terms_for
from loans.services.applications import processing_fee_for
from members.models import Member

from .common import DELINQUENT_SHARE, LOAN_MIX, GenerationRefused, LoanPlan, to_kobo


class LoanPlanning:
    """`plan_loans`: a `LoanPlan` per loan; disbursed ones get a schedule and payments."""

    def plan_loans(self) -> None:
        rng = self.rng
        mix_states = [s for s, _ in LOAN_MIX]
        mix_weights = [w for _, w in LOAN_MIX]
        active_members = [i for i, s in enumerate(self.member_status) if s == Member.Status.ACTIVE]
        if not active_members and self.sizes.loans:
            raise GenerationRefused("Loans need at least one active member.")
        self.loans: list[LoanPlan] = []
        used: set[int] = set()
        as_of = self.as_of
        for n in range(self.sizes.loans):
            status = rng.choices(mix_states, mix_weights)[0]
            product_index = rng.randrange(len(self.products))
            product = self.products[product_index]
            low, high = int(product.min_amount), int(product.max_amount)
            principal = max(
                low, min(high, int(math.exp(rng.uniform(math.log(low), math.log(high))) // 5000 * 5000))
            )
            term = rng.randint(product.min_term, product.max_term)
            if status == Loan.Status.DISBURSED:
                back = rng.randrange(10, max(11, term * 30 - 10))
            elif status == Loan.Status.CLOSED:
                back = term * 31 + rng.randrange(5, 200)
            elif status == Loan.Status.WRITTEN_OFF:
                back = max(term * 31, 200) + rng.randrange(30, 200)
            else:
                back = rng.randrange(7, 60)
            day = as_of - timedelta(days=back)
            # A member who had joined a month before, and has no other loan of this run if possible.
            cutoff = bisect.bisect_right(self.member_join_ord, (day - timedelta(days=30)).toordinal())
            member = None
            for _ in range(8):
                candidate = active_members[rng.randrange(len(active_members))]
                if (
                    self.member_join_ord[candidate] <= (day - timedelta(days=30)).toordinal()
                    and candidate not in used
                ):
                    member = candidate
                    break
            if member is None:
                member = active_members[min(rng.randrange(max(1, cutoff)), len(active_members) - 1)]
                if self.member_join[member] > day - timedelta(days=1):
                    day = self.member_join[member] + timedelta(days=1)
                    if day >= as_of:
                        status = Loan.Status.SUBMITTED
                        day = as_of
            used.add(member)
            plan = LoanPlan(
                index=n,
                member=member,
                product=product_index,
                status=status,
                principal=principal * 100,
                term=term,
                created=self.ts_on(day - timedelta(days=rng.randrange(3, 15)) if back > 15 else day),
            )
            if status in (Loan.Status.DISBURSED, Loan.Status.CLOSED, Loan.Status.WRITTEN_OFF):
                self._plan_disbursed(plan, product, day)
            self.loans.append(plan)

    def _plan_disbursed(self, plan: LoanPlan, product: LoanProduct, day: date) -> None:
        rng, as_of = self.rng, self.as_of
        plan.fee = to_kobo(processing_fee_for(product, Decimal(plan.principal) / 100))
        plan.disbursed_on = day
        plan.disbursed_ts = self.ts_on(day, start_hour=10, end_hour=15)
        schedule = build_schedule(
            schedule_terms_for(
                product=product, principal=Decimal(plan.principal) / 100, term=plan.term, disbursed_on=day
            )
        )
        plan.rows = [
            [row.due_date, to_kobo(row.principal), to_kobo(row.interest), False, None, 0]
            for row in schedule.installments
        ]
        due = [r for r in plan.rows if r[0] < as_of]
        if plan.status == Loan.Status.DISBURSED:
            if rng.random() < DELINQUENT_SHARE and due:
                plan.pays = rng.randrange(0, len(due))
            else:
                plan.pays = len(due)
            if plan.pays == len(plan.rows):  # everything fell due: keep the last one open
                plan.pays -= 1
        elif plan.status == Loan.Status.CLOSED:
            plan.pays = len(plan.rows)
        else:  # WRITTEN_OFF
            plan.pays = rng.randrange(0, min(3, len(due) - 1) + 1) if due else 0
        last_paid = plan.disbursed_ts
        for k in range(plan.pays):
            row = plan.rows[k]
            on = max(day + timedelta(days=1), row[0] - timedelta(days=rng.randrange(0, 4)))
            on = min(on, as_of)
            ts = max(self.ts_on(on), last_paid + 60)
            last_paid = ts
            row[3], row[4], row[5] = True, self.ts_date(ts), ts
        if plan.status == Loan.Status.CLOSED:
            plan.closed_ts = last_paid + 1
        if plan.status == Loan.Status.WRITTEN_OFF:
            missed = plan.rows[plan.pays][0] if plan.pays < len(plan.rows) else as_of
            when = min(
                missed + timedelta(days=rng.randrange(180, 240)), as_of - timedelta(days=rng.randrange(1, 10))
            )
            plan.writeoff_ts = max(self.ts_on(max(when, day + timedelta(days=1))), last_paid + 60)
