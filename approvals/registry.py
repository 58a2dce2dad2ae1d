"""Action types: what a domain asks approval for, and what runs once the approvers have spoken.

Domains register in their `AppConfig.ready()` (approvals imports no domain app):

    from approvals.registry import ActionType, register

    register(ActionType(code="loan_approval", label="Loan approval", on_approved=_approve_loan,
                        on_rejected=_reject_loan, summary=_loan_summary, always_required=True,
                        fallback_permission="loans.approve_loan"))

Callbacks run inside `decide_approval`'s (or the cancel/expiry service's) transaction:

- `on_approved(request, actor)` runs the subject's action exactly once, after the final approval. A
  `DomainError` raised there rolls the whole decision back and reaches the approver (e.g. 409
  insufficient funds): nothing is recorded as approved.
- `on_rejected(request, actor, comment)` after a rejection.
- `on_cancelled(request, actor_or_None, reason)` after a cancellation or an expiry (actor None).
- `summary(request, user)` returns `{"template": "<app>/approval_summary.html", **context}` for the
  decision page; None shows the generic summary (title, amount, member, branch, metadata).
- `always_required`: when no policy band matches, one approval by a holder of
  `fallback_permission` is still needed (e.g. every loan needs an approver).
- `product_choices()` returns `[(product_ref, label)]` for the policy admin form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ActionType:
    code: str
    label: str
    on_approved: Callable
    on_rejected: Callable | None = None
    on_cancelled: Callable | None = None
    summary: Callable | None = None
    always_required: bool = False
    fallback_permission: str | None = None
    product_choices: Callable | None = None


_actions: dict[str, ActionType] = {}

# Known action types, shown in the policy admin before their domain registers (a policy may be
# prepared for a domain that plugs in later). Registering an action replaces its label here.
KNOWN_LABELS = {
    "loan_approval": "Loan approval",
    "loan_disbursement": "Loan disbursement",
    "deposit": "Cash deposit",
    "withdrawal": "Withdrawal",
    "transfer": "Transfer",
    "account_closure": "Account closure",
    "reversal": "Reversal",
    "write_off": "Loan write-off",
    "budget": "Budget",
}


def register(action: ActionType) -> None:
    """Add an action type. Idempotent: registering the same code again replaces it (ready() may
    run twice in tests, and a test may swap in its own callbacks)."""
    if not action.code or len(action.code) > 40:
        raise ValueError("An action type code is 1 to 40 characters.")
    if action.always_required and not action.fallback_permission:
        raise ValueError(f"{action.code}: always_required needs a fallback_permission.")
    _actions[action.code] = action


def unregister(code: str) -> None:
    """Remove an action type (tests that register their own clean up with this)."""
    _actions.pop(code, None)


def get_action(code: str) -> ActionType:
    try:
        return _actions[code]
    except KeyError:
        raise LookupError(f"No approval action type {code!r} is registered.") from None


def find_action(code: str) -> ActionType | None:
    """The registered action type, or None (e.g. its domain app is not installed)."""
    return _actions.get(code)


def action_types() -> list[ActionType]:
    return sorted(_actions.values(), key=lambda action: action.label)


def action_label(code: str) -> str:
    action = _actions.get(code)
    if action is not None:
        return action.label
    return KNOWN_LABELS.get(code, code.replace("_", " ").capitalize())


def action_choices() -> list[tuple[str, str]]:
    """Every registered or known action type, for the policy form (sorted by label)."""
    codes = set(KNOWN_LABELS) | set(_actions)
    return sorted(((code, action_label(code)) for code in codes), key=lambda item: item[1])
