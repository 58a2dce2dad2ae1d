"""COPY of the loans' rows: loans, schedules, payments and timelines."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from datagen import names
from loans.models import Loan, LoanEvent, LoanPayment, LoanSchedule
from loans.selectors import product_schedule_settings
from loans.services.applications import processing_fee_for

from .common import kobo_str


class LoanRows:
    """`write_loans`: loans, their schedule rows, payments and timeline events."""

    def _bucket_for(self, dpd: int):
        for pk, low, high in self.buckets:
            if dpd >= low and (high is None or dpd <= high):
                return pk
        return None

    def write_loans(self) -> None:
        rng = self.rng
        members = [row[0] for row in self.member_rows]
        settings_by_product = [json.dumps(product_schedule_settings(p)) for p in self.products]
        loan_rows, schedule_rows, payment_rows, event_rows = [], [], [], []
        as_of = self.as_of
        for plan in self.loans:
            branch = self.member_branch[plan.member]
            officer, manager, teller = self.officers[branch], self.managers[branch], self.tellers[branch]
            loan_id = self.new_uuid(4, plan.index)
            created = self.ts_dt(plan.created)
            status = plan.status
            submitted = decided = disbursed_at = closed_at = written_off_at = None
            reason = ""
            timeline = [
                (
                    created,
                    officer,
                    "created",
                    "",
                    "DRAFT",
                    f"Application for {kobo_str(plan.principal)} over {plan.term} installment(s)",
                )
            ]
            if status != Loan.Status.DRAFT:
                submitted = created + timedelta(hours=rng.randrange(1, 48))
                end = "WITHDRAWN" if status == Loan.Status.WITHDRAWN else "SUBMITTED"
                timeline.append((submitted, officer, "submitted", "DRAFT", "SUBMITTED", ""))
                if status == Loan.Status.WITHDRAWN:
                    decided = submitted + timedelta(hours=rng.randrange(1, 72))
                    reason = "The applicant no longer needs the loan"
                    timeline.append((decided, officer, "withdrawn", "SUBMITTED", end, reason))
            if status == Loan.Status.REJECTED:
                decided = submitted + timedelta(hours=rng.randrange(2, 96))
                reason = rng.choice(
                    [
                        "Insufficient savings history",
                        "Existing arrears with another lender",
                        "Guarantors not available",
                    ]
                )
                timeline.append((decided, manager, "rejected", "SUBMITTED", "REJECTED", reason))
            if status in (
                Loan.Status.APPROVED,
                Loan.Status.DISBURSED,
                Loan.Status.CLOSED,
                Loan.Status.WRITTEN_OFF,
            ):
                decided = submitted + timedelta(hours=rng.randrange(2, 72))
                if plan.disbursed_ts:
                    decided = min(decided, self.ts_dt(plan.disbursed_ts - 600))
                    submitted = min(submitted, decided - timedelta(minutes=30))
                timeline.append(
                    (decided, manager, "approved", "SUBMITTED", "APPROVED", "Appraisal satisfactory")
                )
            paid_k = 0
            if plan.disbursed_ts:
                disbursed_at = self.ts_dt(plan.disbursed_ts)
                created = min(created, submitted - timedelta(hours=1))
                timeline[0] = (created, *timeline[0][1:])
                timeline.append(
                    (
                        disbursed_at,
                        manager,
                        "disbursed",
                        "APPROVED",
                        "DISBURSED",
                        f"{kobo_str(plan.principal)} to savings",
                    )
                )
                payment_ids = {}
                for k, ts, entry, source, amount in plan.payments:
                    row = plan.rows[k]
                    payment_id = self.new_uuid(6, entry)
                    payment_ids[k] = payment_id
                    record = {"installment": k + 1, "paid_on_before": None, "overdue_before": False}
                    if row[2]:
                        record["interest"] = kobo_str(row[2])
                    if row[1]:
                        record["principal"] = kobo_str(row[1])
                    at = self.ts_dt(ts)
                    payment_rows.append(
                        (
                            payment_id,
                            loan_id,
                            kobo_str(amount),
                            source,
                            self.ts_date(ts),
                            kobo_str(row[1]),
                            kobo_str(row[2]),
                            json.dumps([record]),
                            self.new_uuid(3, entry),
                            teller,
                            at,
                            at,
                        )
                    )
                    timeline.append(
                        (
                            at,
                            teller,
                            "repayment",
                            "DISBURSED",
                            "DISBURSED",
                            f"{kobo_str(amount)} received",
                            json.dumps(
                                {
                                    "payment": str(payment_id),
                                    "amount": kobo_str(amount),
                                    "principal": kobo_str(row[1]),
                                    "interest": kobo_str(row[2]),
                                }
                            ),
                        )
                    )
                    paid_k += 1
                if status == Loan.Status.CLOSED:
                    closed_at = self.ts_dt(plan.closed_ts)
                    timeline.append(
                        (
                            closed_at,
                            teller,
                            "closed",
                            "DISBURSED",
                            "CLOSED",
                            f"Repaid in full on {self.ts_date(plan.closed_ts)}",
                        )
                    )
                if status == Loan.Status.WRITTEN_OFF:
                    written_off_at = self.ts_dt(plan.writeoff_ts)
                    reason = "No payment for over 180 days"
                    timeline.append(
                        (written_off_at, manager, "written_off", "DISBURSED", "WRITTEN_OFF", reason)
                    )
                oldest_overdue, arrears = None, 0
                for k, row in enumerate(plan.rows):
                    due_on, principal, interest, paid, paid_on, _ = row
                    overdue = not paid and due_on < as_of
                    if overdue and oldest_overdue is None:
                        oldest_overdue = due_on
                    if overdue:
                        arrears += principal + interest
                    balance = plan.principal - sum(r[1] for r in plan.rows[: k + 1])
                    total = principal + interest
                    schedule_rows.append(
                        (
                            loan_id,
                            k + 1,
                            due_on,
                            kobo_str(principal),
                            kobo_str(interest),
                            kobo_str(total),
                            kobo_str(balance),
                            kobo_str(principal if paid else 0),
                            kobo_str(interest if paid else 0),
                            kobo_str(total if paid else 0),
                            paid,
                            paid_on,
                            overdue and status == Loan.Status.DISBURSED,
                        )
                    )
                dpd = (
                    (as_of - oldest_overdue).days if oldest_overdue and status == Loan.Status.DISBURSED else 0
                )
                arrears = arrears if dpd else 0
            else:
                dpd, arrears = 0, 0
            last_event = max(t[0] for t in timeline)
            loan_rows.append(
                (
                    loan_id,
                    self._loan_number(plan),
                    members[plan.member],
                    self.products[plan.product].pk,
                    self.branches[branch].pk,
                    officer,
                    status,
                    rng.choice(names.LOAN_PURPOSES),
                    kobo_str(plan.principal),
                    str(self.products[plan.product].interest_rate),
                    plan.term,
                    settings_by_product[plan.product],
                    kobo_str(plan.fee)
                    if plan.disbursed_ts
                    else str(processing_fee_for(self.products[plan.product], Decimal(plan.principal) / 100)),
                    plan.disbursed_on,
                    plan.rows[0][0] if plan.rows else None,
                    self.acc_id[plan.account] if plan.account >= 0 else None,
                    self.new_uuid(3, plan.entry) if plan.entry >= 0 else None,
                    officer,
                    officer if submitted else None,
                    submitted,
                    manager if decided else None,
                    decided,
                    reason,
                    manager if disbursed_at else None,
                    disbursed_at,
                    closed_at,
                    written_off_at,
                    kobo_str(plan.written_off),
                    dpd,
                    kobo_str(arrears),
                    self._bucket_for(dpd) if dpd else None,
                    created,
                    last_event,
                )
            )
            for at, actor, action, before, after, comment, *meta in timeline:
                event_rows.append(
                    (loan_id, at, actor, action, before, after, comment[:255], meta[0] if meta else "{}")
                )
        self.copy(
            Loan,
            [
                "id",
                "loan_number",
                "member_id",
                "product_id",
                "branch_id",
                "loan_officer_id",
                "status",
                "purpose",
                "principal",
                "annual_rate",
                "term",
                "schedule_terms",
                "processing_fee",
                "disbursement_date",
                "first_due_date",
                "account_id",
                "disbursement_entry_id",
                "created_by_id",
                "submitted_by_id",
                "submitted_at",
                "decided_by_id",
                "decided_at",
                "decision_reason",
                "disbursed_by_id",
                "disbursed_at",
                "closed_at",
                "written_off_at",
                "written_off_amount",
                "days_past_due",
                "arrears_amount",
                "arrears_bucket_id",
                "created_at",
                "updated_at",
            ],
            loan_rows,
        )
        self.copy(
            LoanSchedule,
            [
                "loan_id",
                "installment_number",
                "due_date",
                "principal_amount",
                "interest_amount",
                "total_amount",
                "principal_balance",
                "principal_paid",
                "interest_paid",
                "paid_amount",
                "is_paid",
                "paid_on",
                "is_overdue",
            ],
            schedule_rows,
            skip=("id",),
        )
        self.copy(
            LoanPayment,
            [
                "id",
                "loan_id",
                "amount",
                "source",
                "payment_date",
                "principal_portion",
                "interest_portion",
                "allocation",
                "journal_entry_id",
                "received_by_id",
                "created_at",
                "updated_at",
            ],
            payment_rows,
        )
        self.copy(
            LoanEvent,
            ["loan_id", "at", "actor_id", "action", "from_status", "to_status", "comment", "metadata"],
            event_rows,
            skip=("id",),
        )
        self.counts = {
            "loans": len(loan_rows),
            "schedule_rows": len(schedule_rows),
            "payments": len(payment_rows),
            "loan_events": len(event_rows),
        }
        self.out("  " + json.dumps(self.counts))
