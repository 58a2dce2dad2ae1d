"""The state-machine engine (cooperative/workflow.py): checks, guards, on-enter actions, rendering,
the registry, and docs/workflows.md being current."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from cooperative.exceptions import Conflict, NotAllowed, ValidationFailed
from cooperative.workflow import (
    InvalidTransition,
    StateMachine,
    Transition,
    action,
    guard,
    machines,
    render_docs,
)

DOC = Path(settings.BASE_DIR) / "docs" / "workflows.md"


@dataclass
class Doc:
    number: str
    state: str = "DRAFT"
    author: int | None = None
    pages: int = 0


@dataclass
class Person:
    pk: int
    perms: tuple[str, ...] = ()
    is_active: bool = True

    def has_perm(self, perm: str) -> bool:
        return perm in self.perms


@guard("someone other than the author", error=NotAllowed, field="actor", code="FourEyes")
def not_the_author(doc, *, actor, **ctx):
    return "You wrote it." if actor is not None and actor.pk == doc.author else None


@guard("it has pages", error=ValidationFailed, field="pages")
def has_pages(doc, *, pages=None, **ctx):
    return None if (pages if pages is not None else doc.pages) > 0 else "An empty document."


entered: list[tuple[str, object, dict]] = []


@action("the archive copy is made")
def archive(doc, *, actor, **ctx):
    entered.append((doc.state, actor, ctx))


def machine() -> StateMachine:
    return StateMachine(
        name="doc",
        model="tests.Doc",
        field="state",
        states=[("DRAFT", "Draft"), ("REVIEW", "In review"), ("PUBLISHED", "Published"), ("BIN", "Binned")],
        initial="DRAFT",
        plural="documents",
        subject=lambda doc: f"Document {doc.number}",
        transitions=[
            Transition("edit", ("DRAFT", "REVIEW"), None, permission="docs.change", verb="changed"),
            Transition(
                "send", ("DRAFT",), "REVIEW", permission="docs.send", guards=(has_pages,), verb="sent"
            ),
            Transition(
                "publish",
                ("REVIEW",),
                "PUBLISHED",
                permission="docs.publish",
                guards=(not_the_author, has_pages),
                on_enter=(archive,),
                verb="published",
                hint="Send it for review first.",
            ),
            Transition("bin", ("DRAFT", "REVIEW"), "BIN", verb="binned"),
        ],
    )


EDITOR = Person(1, ("docs.change", "docs.send", "docs.publish"))
REVIEWER = Person(2, ("docs.publish",))


def test_apply_moves_the_state_and_runs_on_enter_actions_with_the_context():
    entered.clear()
    doc = Doc("D1", state="REVIEW", author=1, pages=3)

    step = machine().apply(doc, "publish", actor=REVIEWER, note="ok")

    assert doc.state == "PUBLISHED"
    assert step.name == "publish"
    assert entered == [("PUBLISHED", REVIEWER, {"note": "ok"})]


def test_a_step_inside_a_state_is_checked_but_leaves_the_state():
    doc = Doc("D1", state="REVIEW")
    machine().apply(doc, "edit", actor=EDITOR)
    assert doc.state == "REVIEW"
    with pytest.raises(InvalidTransition):
        machine().check(Doc("D2", state="PUBLISHED"), "edit", actor=EDITOR)


def test_a_move_from_the_wrong_state_names_the_state_and_what_is_possible():
    doc = Doc("D1", state="DRAFT", pages=2)

    with pytest.raises(InvalidTransition) as refused:
        machine().check(doc, "publish", actor=REVIEWER)

    assert isinstance(refused.value, Conflict)
    assert refused.value.status == 409
    assert refused.value.field == "state"
    assert refused.value.message == (
        "Document D1 is draft; only review documents can be published. Possible now: edit, send, bin. "
        "Send it for review first."
    )
    assert doc.state == "DRAFT"


def test_a_move_into_the_current_state_says_already_and_a_final_state_has_no_steps():
    doc = Doc("D1", state="PUBLISHED")
    with pytest.raises(InvalidTransition) as refused:
        machine().check(doc, "publish", actor=REVIEWER)
    assert refused.value.message.startswith("Document D1 is already published.")
    assert "No further steps are possible." in refused.value.message


def test_permission_is_checked_before_the_state_and_the_system_needs_none():
    doc = Doc("D1", state="PUBLISHED")
    with pytest.raises(NotAllowed, match="docs.publish"):
        machine().check(doc, "publish", actor=Person(3))
    with pytest.raises(NotAllowed):
        machine().check(Doc("D2", state="REVIEW", pages=1), "publish", actor=Person(4, is_active=False))
    machine().check(Doc("D3", state="DRAFT", pages=1), "send", actor=None)


def test_guards_run_in_order_and_raise_their_own_error():
    doc = Doc("D1", state="REVIEW", author=2, pages=0)

    with pytest.raises(NotAllowed) as four_eyes:
        machine().check(doc, "publish", actor=REVIEWER)
    with pytest.raises(ValidationFailed) as empty:
        machine().check(doc, "publish", actor=Person(5, ("docs.publish",)))

    assert (four_eyes.value.message, four_eyes.value.field, four_eyes.value.code) == (
        "You wrote it.",
        "actor",
        "FourEyes",
    )
    assert (empty.value.field, empty.value.code) == ("pages", "ValidationFailed")
    # a guard reads what the service passes in
    machine().check(doc, "publish", actor=Person(5, ("docs.publish",)), pages=4)
    assert machine().allows(doc, "publish", actor=Person(5, ("docs.publish",)), pages=4)
    assert not machine().allows(doc, "publish", actor=REVIEWER)
    assert doc.state == "REVIEW"


def test_offers_asks_permission_and_state_but_leaves_the_guards_to_check():
    under_review = Doc("D1", state="REVIEW", author=2, pages=0)  # both publish guards would refuse

    assert machine().offers(under_review, "publish", actor=REVIEWER)
    assert not machine().allows(under_review, "publish", actor=REVIEWER)
    assert not machine().offers(under_review, "publish", actor=Person(3, ("docs.change",)))
    assert not machine().offers(Doc("D2", state="DRAFT"), "publish", actor=REVIEWER)
    assert machine().offers(Doc("D3", state="DRAFT"), "bin", actor=Person(4))  # no permission needed

    assert machine().permits(Doc("D4", state="BIN"), "publish", actor=REVIEWER)
    assert not machine().permits(Doc("D4", state="BIN"), "publish", actor=Person(5, is_active=False))
    assert machine().leaves_from(Doc("D5", state="DRAFT"), "send")
    assert not machine().leaves_from(Doc("D5", state="REVIEW"), "send")
    with pytest.raises(ImproperlyConfigured):
        machine().offers(under_review, "print", actor=REVIEWER)


def test_state_only_skips_permission_and_guards_but_not_the_state():
    doc = Doc("D1", state="REVIEW", author=2, pages=0)
    machine().apply(doc, "publish", actor=REVIEWER, state_only=True)
    assert doc.state == "PUBLISHED"
    with pytest.raises(InvalidTransition):
        machine().apply(doc, "publish", actor=REVIEWER, state_only=True)


def test_move_finds_the_step_by_its_target():
    doc = Doc("D1", state="REVIEW")
    assert machine().move(doc, "BIN").name == "bin"
    assert doc.state == "BIN"
    with pytest.raises(InvalidTransition, match="is binned"):
        machine().move(doc, "REVIEW")
    with pytest.raises(ImproperlyConfigured):
        machine().move(doc, "DRAFT")


def test_available_lists_the_steps_from_the_current_state_and_final_states_are_found():
    assert [t.name for t in machine().available(Doc("D1", state="REVIEW"))] == ["edit", "publish", "bin"]
    assert machine().final_states() == ["PUBLISHED", "BIN"]


@pytest.mark.parametrize(
    ("transitions", "problem"),
    [
        ([Transition("a", ("DRAFT",), "NOWHERE")], "unknown state 'NOWHERE'"),
        ([Transition("a", ("DRAFT",), "DRAFT"), Transition("a", ("DRAFT",), "DRAFT")], "declared twice"),
        ([Transition("a", (), "DRAFT")], "no source state"),
    ],
)
def test_a_badly_declared_machine_fails_at_import(transitions, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        StateMachine(
            name="bad",
            model="x.Y",
            field="s",
            states=[("DRAFT", "Draft")],
            initial="DRAFT",
            transitions=transitions,
        )
    with pytest.raises(ImproperlyConfigured, match="initial state"):
        StateMachine(name="bad", model="x.Y", field="s", states=[("A", "A")], initial="B", transitions=[])


def test_an_unknown_step_is_a_programming_error():
    with pytest.raises(ImproperlyConfigured, match="no transition 'fly'"):
        machine().check(Doc("D1"), "fly")


def test_table_and_mermaid_render_every_transition():
    rows = machine().table()
    assert rows[2] == {
        "transition": "publish",
        "from": "REVIEW",
        "to": "PUBLISHED",
        "permission": "docs.publish",
        "guards": "someone other than the author; it has pages",
        "on_enter": "the archive copy is made",
        "description": "",
    }
    assert rows[0]["to"] == "(stays)"
    assert rows[3]["permission"] == "(system)"
    diagram = machine().mermaid().splitlines()
    assert diagram[0] == "stateDiagram-v2"
    assert '    state "In review" as REVIEW' in diagram
    assert "    [*] --> DRAFT" in diagram
    assert "    REVIEW --> PUBLISHED : publish" in diagram
    assert "    DRAFT --> BIN : bin" in diagram
    assert "    REVIEW --> BIN : bin" in diagram
    assert "    PUBLISHED --> [*]" in diagram
    assert not any("edit" in line for line in diagram)  # steps inside a state are in the table only


def test_the_registry_holds_every_apps_machine():
    names = [m.name for m in machines()]
    assert {"loan", "member_kyc", "ledger_account"} <= set(names)
    assert names == sorted(names)


def test_docs_workflows_md_is_current():
    """docs/workflows.md is generated; when this fails run `python manage.py workflow_docs` and commit."""
    assert DOC.read_text() == render_docs(), (
        "docs/workflows.md is stale: run `python manage.py workflow_docs`"
    )
    for m in machines():
        assert f"## {m.title or m.name}" in DOC.read_text()
        assert m.mermaid() in DOC.read_text()


def test_workflow_docs_command_writes_and_checks(tmp_path):
    target = tmp_path / "workflows.md"
    with pytest.raises(CommandError, match="stale"):
        call_command("workflow_docs", "--check", "--output", str(target), stdout=io.StringIO())
    call_command("workflow_docs", "--output", str(target), stdout=io.StringIO())
    assert target.read_text() == render_docs()
    out = io.StringIO()
    call_command("workflow_docs", "--check", "--output", str(target), stdout=out)
    assert "is current" in out.getvalue()
    target.write_text(render_docs() + "edited by hand\n")
    with pytest.raises(CommandError):
        call_command("workflow_docs", "--check", "--output", str(target), stdout=io.StringIO())
