"""Which band of which scope applies to an amount, and whether a scope's bands are well formed.

Pure functions over plain band tuples, shared by the request service (database rows), the cheap
`approval_required` check (a cached table) and the admin validation.

Scopes, most specific first: branch + product, branch, product, all. The most specific scope that
has active bands decides alone. Within it a band matches when `min < amount <= max` (max None: no
limit); amounts at or below the scope's lowest band need no approval.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .formatting import naira


@dataclass(frozen=True)
class Band:
    id: object
    branch_id: str | None
    product_ref: str
    min_amount: Decimal
    max_amount: Decimal | None


def scope_order(branch_id, product_ref: str) -> list[tuple[str | None, str]]:
    branch = str(branch_id) if branch_id else None
    scopes: list[tuple[str | None, str]] = []
    if branch and product_ref:
        scopes.append((branch, product_ref))
    if branch:
        scopes.append((branch, ""))
    if product_ref:
        scopes.append((None, product_ref))
    scopes.append((None, ""))
    return scopes


def matching_band(bands: Iterable[Band], *, amount: Decimal, branch_id, product_ref: str = "") -> Band | None:
    """The band that governs `amount`, or None when no approval is needed by policy."""
    by_scope: dict[tuple[str | None, str], list[Band]] = {}
    for band in bands:
        by_scope.setdefault((band.branch_id, band.product_ref), []).append(band)
    for scope in scope_order(branch_id, product_ref or ""):
        candidates = sorted(by_scope.get(scope, ()), key=lambda b: b.min_amount)
        if not candidates:
            continue
        if amount <= candidates[0].min_amount:
            return None  # below the scope's lowest band: no approval needed
        for band in candidates:
            if amount > band.min_amount and (band.max_amount is None or amount <= band.max_amount):
                return band
        # A gap or a closed top (the admin refuses both, but rows may be edited elsewhere): take the
        # nearest band below, so an amount is never left unapproved by a malformed scope.
        return max((b for b in candidates if b.min_amount < amount), key=lambda b: b.min_amount)
    return None


def scope_problems(bands: Sequence[Band]) -> list[str]:
    """What is wrong with one scope's active bands (empty list: fine)."""
    ordered = sorted(bands, key=lambda b: b.min_amount)
    problems: list[str] = []
    for band in ordered:
        if band.max_amount is not None and band.max_amount <= band.min_amount:
            problems.append(f"A band must end above where it starts ({naira(band.min_amount)}).")
    for lower, upper in zip(ordered, ordered[1:], strict=False):
        if lower.max_amount is None or upper.min_amount < lower.max_amount:
            end = "no upper limit" if lower.max_amount is None else naira(lower.max_amount)
            problems.append(
                f"Bands overlap: the band above {naira(lower.min_amount)} ({end}) and the band above "
                f"{naira(upper.min_amount)}."
            )
        elif upper.min_amount > lower.max_amount:
            problems.append(
                f"Gap between {naira(lower.max_amount)} and {naira(upper.min_amount)}: amounts in between "
                f"would need no approval. The next band must start at {naira(lower.max_amount)}."
            )
    if ordered and ordered[-1].max_amount is not None:
        problems.append(
            f"The highest band ends at {naira(ordered[-1].max_amount)}: leave its upper limit empty, so a "
            "larger amount can never go through unapproved."
        )
    return problems
