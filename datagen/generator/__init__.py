"""A realistic, consistent Coopdesk dataset, loaded fast (PostgreSQL COPY) for the scale benchmarks.

What is generated (all deterministic for a given `seed`, `as_of` and starting database):
- `branches` branches in Nigerian cities, each with its GL accounts (the normal ledger service), a
  teller, a loan officer and a manager (unusable passwords, role groups from `bootstrap_roles`);
- `members` members with Yoruba, Igbo, Hausa, Edo, South-South and Tiv names weighted by the branch's
  city, valid +234 mobile numbers, emails, dates of birth, addresses, next of kin, KYC states;
- a SAVINGS and a SHARES account each (10-digit NUBAN-style numbers from the `account_serial` counter);
- `loans` loans in every state (DRAFT, SUBMITTED, APPROVED, REJECTED, WITHDRAWN, DISBURSED, CLOSED,
  WRITTEN_OFF) with the schedule engine's schedules, repayments (LoanPayment rows with their
  allocation), timelines, and a quarter of the active loans behind on their installments;
- `postings` ledger legs (`ledger_transaction` rows) in all: every member's opening deposit (3 legs:
  teller cash or bank against savings and shares), each loan's disbursement, repayments and write-off
  take their share first; the rest are a year of member deposits, share purchases, withdrawals and
  transfers (2 legs each; one 3-leg split deposit when the remainder is odd), so the total is exact.

Money is simulated in time order in Python (integer kobo), so every leg carries its running
`balance_after`, withdrawals never overdraw, and each account row is written once, with its final
balance. Everything is written in ONE transaction; on PostgreSQL superuser connections the row
triggers (the ledger's append-only and deferred balance triggers, and the foreign-key triggers) are
switched off for that transaction only (`SET LOCAL session_replication_role = replica`) and the same
guarantees are checked set-based before commit: every entry balances, every cached balance equals
its legs, all legs sum to zero, every leg's entry and account exist. Any failure rolls everything back.
Counters (`member_number`, `account_serial`, `loan_number`) are advanced past what was used, so
registrations, new accounts and new loans through the services carry on after generation.
Generated rows have no django-simple-history rows (as if migrated in from a previous system).

The package, by phase (each a mixin of `Generator`, sharing its state):
- `common`: sizes, constants, kobo helpers, the loan plan, the generated-reference marker;
- `pipeline`: `Generator` itself: the run (refusals, phases, the one transaction), counters, checks;
- `setup`: roles, branches, GL accounts, staff, products and counters through the normal code paths;
- `member_planning`, `loan_planning`: the members and the loans (with their schedules) planned in memory;
- `simulation`: a year of money movements in time order (entries and legs, integer kobo);
- `writers`: COPY of members, accounts, journal entries and legs; `loan_rows`: COPY of the loans'
  rows (loans, schedules, payments, timelines).
"""

from .common import GenerationRefused, Sizes
from .pipeline import Generator

__all__ = ["GenerationRefused", "Generator", "Sizes"]
