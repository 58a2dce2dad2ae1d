"""A year of money movements, simulated in time order in integer kobo (entries and legs)."""

from __future__ import annotations

import bisect
import json
import math
from datetime import timedelta

from ledger.models import JournalEntry

from .common import HEAVY_SHARE, GenerationRefused, LoanPlan


class Simulation:
    """`simulate`: openings, loan disbursements, repayments, write-offs and member activity."""

    def _entry(self, ts, kind, narration, branch, user, legs, key=None, metadata="{}") -> int:
        """Append an entry and its legs; legs = [(account, is_debit, amount, description)]."""
        index = len(self.entries)
        self.entries.append((ts, kind, narration, branch, user, key, metadata))
        debit = credit = 0
        for account, is_debit, amount, description in legs:
            if is_debit:
                debit += amount
            else:
                credit += amount
            balance = self.acc_balance[account] + (amount if is_debit == self.acc_debit[account] else -amount)
            self.acc_balance[account] = balance
            self.legs.append((index, account, is_debit, amount, balance, description or narration))
        if debit != credit or debit <= 0:
            raise AssertionError(f"generator bug: unbalanced entry {narration}")
        return index

    def _amount(self, median_naira: int, spread: float = 0.9, step: int = 100) -> int:
        naira = int(math.exp(self.rng.gauss(math.log(median_naira), spread)))
        return max(step, naira // step * step) * 100

    def simulate(self) -> None:
        rng = self.rng
        events: list[tuple] = []
        # Opening deposits: one per member on joining (3 legs).
        for i, join in enumerate(self.member_join):
            events.append((self.ts_on(join), 0, i))
        fixed = 3 * len(self.member_join)
        for plan in self.loans:
            if plan.disbursed_on is None:
                continue
            events.append((plan.disbursed_ts, 1, plan.index))
            fixed += 3 if plan.fee else 2
            for k in range(plan.pays):
                row = plan.rows[k]
                events.append((row[5], 2, plan.index, k))
                fixed += 1 + (1 if row[1] else 0) + (1 if row[2] else 0)
            if plan.writeoff_ts:
                events.append((plan.writeoff_ts, 3, plan.index))
                fixed += 2
        remaining = self.sizes.postings - fixed
        if remaining < 0:
            raise GenerationRefused(
                f"--postings {self.sizes.postings:,} is too few: the members' opening deposits and the loans "
                f"alone need {fixed:,} legs. Raise --postings or lower --members/--loans."
            )
        activities, split = divmod(remaining, 2)
        if split and activities == 0:
            raise GenerationRefused("--postings leaves a single leg over; add one more.")
        # A year of activity, weekdays busier, month ends busiest.
        days = [self.window_start + timedelta(days=d) for d in range(1, 366)]
        weights = [
            (1.0 if d.weekday() < 5 else (0.5 if d.weekday() == 5 else 0.1)) * (1.5 if d.day >= 25 else 1.0)
            for d in days
        ]
        for n, day in enumerate(rng.choices(days, weights, k=activities)):
            events.append((self.ts_on(day), 4, n))
        self.split_activity = 0 if split else -1
        events.sort()
        self.out(f"  {len(events):,} events: {fixed:,} legs of openings and loans, {activities:,} activities")
        handlers = {
            0: self._opening,
            1: self._disburse,
            2: self._repay,
            3: self._write_off,
            4: self._activity,
        }
        for event in events:
            handlers[event[1]](event)

    def _opening(self, event) -> None:
        ts, _, i = event
        branch = self.member_branch[i]
        savings, shares = self._amount(20_000, 1.0), self._amount(10_000, 0.6, 1000)
        cash = self.rng.random() < 0.7
        counter = self.gl[(branch, "TELLER_CASH" if cash else "BANK")]
        self._entry(
            ts,
            JournalEntry.Kind.DEPOSIT,
            "Opening deposit and share capital" + ("" if cash else " (bank transfer)"),
            branch,
            self.tellers[branch],
            [
                (counter, True, savings + shares, ""),
                (self.member_savings[i], False, savings, "Opening savings deposit"),
                (self.member_shares[i], False, shares, "Share capital"),
            ],
        )

    def _activity(self, event) -> None:
        ts, _, n = event
        rng = self.rng
        day_ord = self.ts_date(ts).toordinal()
        joined = bisect.bisect_right(self.member_join_ord, day_ord)
        if joined == 0:
            joined = 1  # nobody had joined yet: the first member was early
        if self.heavy and rng.random() < HEAVY_SHARE:
            member = rng.choice(self.heavy)
            account = self.member_savings[member]
        else:
            member = rng.randrange(joined)
            account = self.member_savings[member]
        branch = self.acc_branch[account]
        teller = self.tellers[branch]
        roll = rng.random()
        cash = rng.random() < 0.75
        counter = self.gl[(branch, "TELLER_CASH" if cash else "BANK")]
        channel = "Cash" if cash else "Bank transfer"
        if self.split_activity == 0:
            self.split_activity = -1
            amount = self._amount(30_000)
            part = max(100, amount // 200 * 100)
            self._entry(
                ts,
                JournalEntry.Kind.DEPOSIT,
                "Deposit (cash and cheque)",
                branch,
                teller,
                [
                    (self.gl[(branch, "TELLER_CASH")], True, part, ""),
                    (self.gl[(branch, "BANK")], True, amount - part, ""),
                    (account, False, amount, ""),
                ],
            )
            return
        available = self.acc_balance[account] - self.savings_minimum
        if roll < 0.3:  # withdrawal
            amount = min(self._amount(15_000), available // 10_000 * 10_000)
            if self.savings_daily_limit is not None:
                amount = min(amount, self.savings_daily_limit)
            if amount >= 50_000:
                self._entry(
                    ts,
                    JournalEntry.Kind.WITHDRAWAL,
                    f"{channel} withdrawal",
                    branch,
                    teller,
                    [(account, True, amount, ""), (counter, False, amount, "")],
                )
                return
        elif roll < 0.45:  # transfer to another member
            amount = min(self._amount(10_000), available // 10_000 * 10_000)
            other = rng.randrange(joined)
            if amount >= 50_000 and self.member_savings[other] != account:
                to = self.member_savings[other]
                narration = f"Transfer to {self.member_names[other]}"
                self._entry(
                    ts,
                    JournalEntry.Kind.TRANSFER,
                    narration,
                    branch,
                    teller,
                    [(account, True, amount, narration), (to, False, amount, "Transfer received")],
                )
                return
        elif roll < 0.55:  # share purchase
            amount = self._amount(5_000, 0.5, 1000)
            self._entry(
                ts,
                JournalEntry.Kind.DEPOSIT,
                "Share purchase",
                branch,
                teller,
                [(counter, True, amount, ""), (self.member_shares[member], False, amount, "")],
            )
            return
        amount = self._amount(12_000)  # deposit (and whatever could not be withdrawn or sent)
        self._entry(
            ts,
            JournalEntry.Kind.DEPOSIT,
            f"{channel} deposit",
            branch,
            teller,
            [(counter, True, amount, ""), (account, False, amount, "")],
        )

    def _loan_number(self, plan: LoanPlan) -> str:
        return f"LN{self.loan_base + 1 + plan.index:08d}"

    def _loan_meta(self, plan: LoanPlan, **extra) -> str:
        return json.dumps(
            {"loan": str(self.new_uuid(4, plan.index)), "loan_number": self._loan_number(plan), **extra}
        )

    def _disburse(self, event) -> None:
        plan = self.loans[event[2]]
        branch = self.member_branch[plan.member]
        number = self._loan_number(plan)
        plan.account = self._add_account(self.new_uuid(2, len(self.acc_new)), True, branch)
        self.acc_new.append(
            (
                plan.account,
                plan.member,
                "LOAN",
                plan.disbursed_ts,
                f"Loan {number} – {self.member_names[plan.member]}",
            )
        )
        narration = f"Disbursement of loan {number}"
        legs = [
            (plan.account, True, plan.principal, narration),
            (self.member_savings[plan.member], False, plan.principal - plan.fee, narration),
        ]
        if plan.fee:
            legs.append((self.gl[(branch, "FEE_INCOME")], False, plan.fee, f"Processing fee, loan {number}"))
        plan.entry = self._entry(
            plan.disbursed_ts,
            JournalEntry.Kind.LOAN_DISBURSEMENT,
            narration,
            branch,
            self.managers[branch],
            legs,
            key=f"loan:{self.new_uuid(4, plan.index)}:disbursement",
            metadata=self._loan_meta(plan),
        )

    def _repay(self, event) -> None:
        ts, _, index, k = event
        plan = self.loans[index]
        branch = self.member_branch[plan.member]
        row = plan.rows[k]
        amount = row[1] + row[2]
        savings = self.member_savings[plan.member]
        source = (
            "SAVINGS"
            if self.rng.random() < 0.4 and self.acc_balance[savings] - amount >= self.savings_minimum
            else "CASH"
        )
        debit = savings if source == "SAVINGS" else self.gl[(branch, "TELLER_CASH")]
        narration = f"Repayment of loan {self._loan_number(plan)}"
        legs = [(debit, True, amount, narration)]
        if row[1]:
            legs.append((plan.account, False, row[1], f"{narration}: principal"))
        if row[2]:
            legs.append((self.gl[(branch, "INTEREST_INCOME")], False, row[2], f"{narration}: interest"))
        entry = self._entry(
            ts,
            JournalEntry.Kind.LOAN_REPAYMENT,
            narration,
            branch,
            self.tellers[branch],
            legs,
            metadata=self._loan_meta(plan, source=source),
        )
        plan.payments.append((k, ts, entry, source, amount))

    def _write_off(self, event) -> None:
        plan = self.loans[event[2]]
        branch = self.member_branch[plan.member]
        outstanding = self.acc_balance[plan.account]
        number = self._loan_number(plan)
        plan.written_off = outstanding
        if outstanding <= 0:
            raise AssertionError(f"generator bug: loan {number} has nothing to write off")
        narration = f"Write-off of loan {number}"
        self._entry(
            plan.writeoff_ts,
            JournalEntry.Kind.WRITE_OFF,
            f"{narration}: no payment for over 180 days",
            branch,
            self.managers[branch],
            [
                (self.gl[(branch, "LOAN_LOSS_EXPENSE")], True, outstanding, narration),
                (plan.account, False, outstanding, narration),
            ],
            key=f"loan:{self.new_uuid(4, plan.index)}:write-off",
            metadata=json.dumps({"loan": str(self.new_uuid(4, plan.index))}),
        )
