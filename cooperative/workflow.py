"""Declarative state machines: one table per model of who may move it from which state to which.

A machine is data, declared once per model in that app's ``workflow.py`` (``loans/workflow.py``,
``members/workflow.py``, ``ledger/workflow.py`` …): its states and its transitions, each with the
states it leaves from, the state it enters, the permission it needs, guards (callables that return a
reason to refuse, or None) and on-enter actions. The services stay the only writers: they lock the
row, then ask the machine

    machine.check(instance, "approve", actor=user)   # refuses with a DomainError, changes nothing
    machine.apply(instance, "approve", actor=user)   # checks, sets the field, runs on-enter actions

and save what changed. An illegal move raises ``InvalidTransition`` (a ``Conflict``: 409 in the API)
naming the current state and the steps possible from it. ``table()`` and ``mermaid()`` render the
machine for people; ``python manage.py workflow_docs`` writes every registered machine to
``docs/workflows.md`` (a test fails when that file is stale).

Why not a library: django-fsm(-2) and viewflow.fsm declare transitions as decorated model methods
(the state change lives on the model, the side effects in the method), python-statemachine binds a
class-based machine to each instance with its own event/callback protocol; all three draw Graphviz,
none mermaid, and none fits "services own the transaction, the table only decides". This module is
that table and nothing more. It imports no domain app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cooperative.models import User

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

from .exceptions import Conflict, DomainError, NotAllowed

GuardCheck = Callable[..., "str | None"]
Action = Callable[..., None]


class InvalidTransition(Conflict):
    """The object is not in a state that allows this step."""

    title = "Not possible in the current state"


@dataclass(frozen=True)
class Guard:
    """A condition a transition needs. ``check(instance, actor=..., **ctx)`` returns why not, or None.

    A failed guard raises ``error(reason, field=field, code=code)``: a four-eyes guard answers 403, a
    data check 400 or 409, as the rule deserves.
    """

    description: str
    check: GuardCheck
    error: type[DomainError] = Conflict
    field: str | None = None
    code: str | None = None

    def refusal(self, instance, *, actor: User | None, ctx: dict) -> DomainError | None:
        reason = self.check(instance, actor=actor, **ctx)
        if not reason:
            return None
        return self.error(reason, field=self.field, code=self.code)


def guard(
    description: str,
    *,
    error: type[DomainError] = Conflict,
    field: str | None = None,
    code: str | None = None,
) -> Callable[[GuardCheck], Guard]:
    """Decorator: ``@guard("guarantors cover the product's %", error=GuarantorRefused)``."""

    def wrap(check: GuardCheck) -> Guard:
        return Guard(description=description, check=check, error=error, field=field, code=code)

    return wrap


def action(description: str) -> Callable[[Action], Action]:
    """Decorator naming an on-enter action for the table: ``@action("guarantor pledges become holds")``."""

    def wrap(fn: Action) -> Action:
        fn.description = description  # type: ignore[attr-defined]
        return fn

    return wrap


def _describe(fn: Callable) -> str:
    text = getattr(fn, "description", None) or (fn.__doc__ or "").strip().split("\n")[0]
    return text or fn.__name__.replace("_", " ")


@dataclass(frozen=True)
class Transition:
    """One row of the table. ``target=None`` is a step inside the state (edit, add a guarantor…):
    it is checked like a transition but leaves the state as it is."""

    name: str
    sources: tuple[str, ...]
    target: str | None
    permission: str | None = None
    guards: tuple[Guard, ...] = ()
    on_enter: tuple[Action, ...] = ()
    verb: str = ""
    description: str = ""
    hint: str = ""

    @property
    def changes_state(self) -> bool:
        return self.target is not None

    def past_tense(self) -> str:
        return self.verb or self.name.replace("_", " ")


def _default_authorize(actor: User | None, permission: str, instance) -> None:
    """``actor=None`` is the system itself (jobs, the demo seed); a person needs the permission."""
    if actor is None:
        return
    if not (actor.is_active and actor.has_perm(permission)):
        raise NotAllowed(f"You do not have permission to do this ({permission}).")


@dataclass
class StateMachine:
    """The states and transitions of one model's ``field``.

    ``subject(instance)`` names the object in messages ("Loan LN00000012"), ``plural`` names the kind
    ("loans"); ``authorize(actor, permission, instance)`` raises when the actor may not (default:
    ``actor.has_perm``; an app adds its branch check); ``error`` is the InvalidTransition subclass
    raised for a move from the wrong state.
    """

    name: str
    model: str
    field: str
    # A TextChoices class or (value, label) pairs; a dict value -> label after __post_init__.
    states: Any
    initial: str
    transitions: Iterable[Transition]
    title: str = ""
    description: str = ""
    plural: str = "records"
    subject: Callable[[Any], str] = str
    authorize: Callable[[Any, str, Any], None] = _default_authorize
    error: type[InvalidTransition] = InvalidTransition
    _by_name: dict[str, Transition] = dataclass_field(init=False, repr=False)

    def __post_init__(self) -> None:
        choices = getattr(self.states, "choices", self.states)
        self.states = dict(choices)
        self.transitions = tuple(self.transitions)
        self._by_name = {}
        problems = []
        if self.initial not in self.states:
            problems.append(f"initial state {self.initial!r} is not a state")
        for t in self.transitions:
            if t.name in self._by_name:
                problems.append(f"transition {t.name!r} is declared twice")
            self._by_name[t.name] = t
            if not t.sources:
                problems.append(f"transition {t.name!r} has no source state")
            for state in (*t.sources, *((t.target,) if t.target else ())):
                if state not in self.states:
                    problems.append(f"transition {t.name!r} names unknown state {state!r}")
        if problems:
            raise ImproperlyConfigured(f"State machine {self.name}: " + "; ".join(problems))

    # --- reading --------------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Transition:
        try:
            return self._by_name[name]
        except KeyError:
            raise ImproperlyConfigured(f"State machine {self.name} has no transition {name!r}") from None

    def label(self, state: str) -> str:
        return str(self.states.get(state, state))

    def state_of(self, instance) -> str:
        return getattr(instance, self.field)

    def available(self, instance) -> list[Transition]:
        """The steps the table allows from the instance's current state (before permission and guards)."""
        state = self.state_of(instance)
        return [t for t in self.transitions if state in t.sources]

    def final_states(self) -> list[str]:
        leaving = {s for t in self.transitions if t.changes_state for s in t.sources if s != t.target}
        return [s for s in self.states if s not in leaving]

    # --- deciding -------------------------------------------------------------------------------

    def _state_error(self, instance, transition: Transition) -> InvalidTransition:
        state = self.state_of(instance)
        who = self.subject(instance)
        if transition.target is not None and state == transition.target:
            message = f"{who} is already {self.label(state).lower()}."
        else:
            sources = " or ".join(s.lower().replace("_", " ") for s in transition.sources)
            message = (
                f"{who} is {self.label(state).lower()}; only {sources} {self.plural} can be "
                f"{transition.past_tense()}."
            )
        possible = [t.name.replace("_", " ") for t in self.available(instance)]
        message += f" Possible now: {', '.join(possible)}." if possible else " No further steps are possible."
        if transition.hint:
            message += f" {transition.hint}"
        return self.error(message, field=self.field)

    def check(
        self,
        instance,
        name: str,
        *,
        actor: User | None = None,
        state_only: bool = False,
        authorized: bool = False,
        **ctx,
    ) -> Transition:
        """Refuse (raise) unless ``actor`` may take step ``name`` now: permission, state, then guards.

        ``state_only=True`` checks the state alone (the service already ran the full check earlier in
        the same transaction and only re-asserts the table before saving). ``authorized=True`` skips
        the permission only: the actor's authority was established elsewhere (the level of an approval
        policy they just completed), the state and the guards still apply."""
        transition = self[name]
        if not (state_only or authorized) and transition.permission:
            self.authorize(actor, transition.permission, instance)
        if self.state_of(instance) not in transition.sources:
            raise self._state_error(instance, transition)
        if not state_only:
            for rule in transition.guards:
                refusal = rule.refusal(instance, actor=actor, ctx=ctx)
                if refusal is not None:
                    raise refusal
        return transition

    def allows(self, instance, name: str, *, actor: User | None = None, **ctx) -> bool:
        """True when ``check`` would pass (for showing or hiding a button)."""
        try:
            self.check(instance, name, actor=actor, **ctx)
        except DomainError:
            return False
        return True

    def permits(self, instance, name: str, *, actor=None) -> bool:
        """True when ``actor`` holds the step's permission for this instance (``authorize``: the
        permission and whatever the app adds, e.g. the branch), whatever the state and the guards."""
        transition = self[name]
        if not transition.permission:
            return True
        try:
            self.authorize(actor, transition.permission, instance)
        except DomainError:
            return False
        return True

    def leaves_from(self, instance, name: str) -> bool:
        """True when the step can be taken from the instance's current state (permission and guards aside)."""
        return self.state_of(instance) in self[name].sources

    def offers(self, instance, name: str, *, actor=None) -> bool:
        """True when ``actor`` may take the step and the state allows it: whether a screen shows the
        step's button. The guards are not run here: they need the step's input, and a refusal is
        explained (``check`` raises their reason) when the person takes the step."""
        return self.leaves_from(instance, name) and self.permits(instance, name, actor=actor)

    def apply(
        self,
        instance,
        name: str,
        *,
        actor: User | None = None,
        state_only: bool = False,
        authorized: bool = False,
        **ctx,
    ) -> Transition:
        """Check, set the state field (not saved: the service saves) and run the on-enter actions."""
        transition = self.check(
            instance, name, actor=actor, state_only=state_only, authorized=authorized, **ctx
        )
        if transition.target is not None:
            setattr(instance, self.field, transition.target)
        for run in transition.on_enter:
            run(instance, actor=actor, **ctx)
        return transition

    def move(
        self, instance, target: str, *, actor: User | None = None, state_only: bool = True, **ctx
    ) -> Transition:
        """Apply the transition that leads from the current state to ``target`` (for a service that
        knows the state it wants rather than the step's name). Refuses when the table has none."""
        state = self.state_of(instance)
        for transition in self.transitions:
            if transition.target == target and state in transition.sources:
                return self.apply(instance, transition.name, actor=actor, state_only=state_only, **ctx)
        into = [t for t in self.transitions if t.target == target]
        if not into:
            raise ImproperlyConfigured(f"State machine {self.name} has no transition into {target!r}")
        raise self._state_error(instance, into[0])

    # --- rendering ------------------------------------------------------------------------------

    def table(self) -> list[dict[str, str]]:
        return [
            {
                "transition": t.name,
                "from": ", ".join(t.sources),
                "to": t.target or "(stays)",
                "permission": t.permission or "(system)",
                "guards": "; ".join(g.description for g in t.guards),
                "on_enter": "; ".join(_describe(a) for a in t.on_enter),
                "description": t.description,
            }
            for t in self.transitions
        ]

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2", "    direction LR"]
        lines += [f'    state "{self.label(s)}" as {s}' for s in self.states]
        lines.append(f"    [*] --> {self.initial}")
        for t in self.transitions:
            if t.target is None:
                continue
            lines += [f"    {source} --> {t.target} : {t.name}" for source in t.sources]
        lines += [f"    {s} --> [*]" for s in self.final_states()]
        return "\n".join(lines)

    def markdown(self) -> str:
        def cell(text: str) -> str:
            return (text or "").replace("|", "\\|").replace("\n", " ")

        headers = ("transition", "from", "to", "permission", "guards", "on_enter", "description")
        titles = ("Transition", "From", "To", "Permission", "Guards", "On enter", "What it does")
        out = [f"## {self.title or self.name}", ""]
        if self.description:
            out += [self.description, ""]
        out += [
            f"Machine `{self.name}`: field `{self.model}.{self.field}`, initial state `{self.initial}`; "
            "states: " + ", ".join(f"`{s}` ({self.label(s)})" for s in self.states) + ".",
            "",
            "| " + " | ".join(titles) + " |",
            "|" + "---|" * len(titles),
        ]
        out += ["| " + " | ".join(cell(row[h]) for h in headers) + " |" for row in self.table()]
        out += ["", "```mermaid", self.mermaid(), "```", ""]
        return "\n".join(out)


# --- registry --------------------------------------------------------------------------------------

_MACHINES: dict[str, StateMachine] = {}


def register(machine: StateMachine) -> StateMachine:
    """Add a machine to the registry (each app's workflow.py registers its own at import)."""
    existing = _MACHINES.get(machine.name)
    if existing is not None and existing is not machine:
        raise ImproperlyConfigured(f"Two state machines are called {machine.name}")
    _MACHINES[machine.name] = machine
    return machine


def machines() -> list[StateMachine]:
    """Every registered machine, sorted by name, after importing each installed app's workflow.py."""
    autodiscover_modules("workflow")
    return [_MACHINES[name] for name in sorted(_MACHINES)]


DOC_HEADER = """# Workflows

Generated by `python manage.py workflow_docs` from each app's `workflow.py` (the state machines the
services check every status change against; see `cooperative/workflow.py`). Do not edit by hand: a
test fails when this file and the code disagree.

A transition's permission is checked first (with the object's branch), then the current state, then
its guards, in the order listed; an illegal move is a 409 problem naming the current state and the
steps possible from it. `(stays)` marks a step taken inside a state; `(system)` one that only the
system takes (end of day, a repayment that clears the loan).
"""


def render_docs() -> str:
    return "\n".join([DOC_HEADER, *(m.markdown() for m in machines())]).rstrip("\n") + "\n"
