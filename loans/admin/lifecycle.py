"""Lifecycle steps of a loan in the admin: the buttons of the loan page, one view per step (a form,
the service, the domain error on the form), the repayment with its confirmation step, removing a
guarantor and reversing a repayment."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from approvals.selectors import can_decide, requests_for
from cooperative.admin_confirm import submit_form
from cooperative.money import format_amount
from cooperative.permissions import scope_queryset
from members.models import Member

from .. import services
from ..forms import (
    ApplicationChangeForm,
    CommentForm,
    DisburseForm,
    GuarantorForm,
    ReasonForm,
    RecoveryForm,
    RepaymentForm,
)
from ..models import Loan
from ..selectors import write_off_figures
from ..workflow import LOAN_MACHINE
from .common import (
    S,
    _approval_requests_of,
    _disbursement_figures,
)


@dataclass(frozen=True)
class LoanAction:
    """A button of the loan page and its view. Who may take it, and from which status, is the
    machine's: ``step`` names the LOAN_MACHINE transition (its permission and source states)."""

    name: str
    label: str
    step: str
    form_class: type
    service: str
    success: str
    help: str = ""


# A repayment is not a step of LOAN_MACHINE (it happens inside DISBURSED; the service checks the
# status and the permission itself): its button follows the rule record_repayment states.
REPAYMENT_PERMISSION = "loans.record_repayment"
REPAYMENT_STATUSES = (S.DISBURSED,)

ACTIONS = {
    "edit": LoanAction(
        "edit",
        "Edit application",
        "edit",
        ApplicationChangeForm,
        "update_application",
        "updated",
        "Amount, term, first due date and purpose can change until the loan is approved. Changing a "
        "submitted application cancels its approval request and asks again for the new terms.",
    ),
    "submit": LoanAction(
        "submit",
        "Submit",
        "submit",
        CommentForm,
        "submit_application",
        "submitted for approval",
        "Runs the eligibility checks and the guarantor coverage; a manager then approves.",
    ),
    "approve": LoanAction(
        "approve",
        "Approve",
        "approve",
        CommentForm,
        "approve_loan",
        "approved",
        "Guarantor pledges become holds on their savings. "
        "You cannot approve a loan you created or submitted.",
    ),
    "reject": LoanAction("reject", "Reject", "reject", ReasonForm, "reject_loan", "rejected"),
    "withdraw": LoanAction(
        "withdraw",
        "Withdraw",
        "withdraw",
        ReasonForm,
        "withdraw_application",
        "withdrawn",
        "The applicant no longer wants the loan; guarantors' holds are released.",
    ),
    "disburse": LoanAction(
        "disburse",
        "Disburse",
        "disburse",
        DisburseForm,
        "disburse_loan",
        "disbursed",
        "Credits the member's savings with the principal less the processing fee and fixes the schedule.",
    ),
    "guarantor": LoanAction(
        "guarantor",
        "Add guarantor",
        "add_guarantor",
        GuarantorForm,
        "add_guarantor",
        "guarantor added",
        "An active member other than the borrower pledges part of their free savings.",
    ),
    "repayment": LoanAction(
        "repayment", "Record repayment", "", RepaymentForm, "record_repayment", "repayment recorded"
    ),
    "write_off": LoanAction(
        "write_off",
        "Write off",
        "write_off",
        ReasonForm,
        "write_off_loan",
        "written off",
        "Posts the outstanding principal to loan-loss expense (interest, fees and penalties were never "
        "income: they stay owed off the books). Recoveries can still be recorded.",
    ),
    "recover": LoanAction(
        "recover",
        "Recover from guarantors",
        "recover_from_guarantors",
        CommentForm,
        "recover_from_guarantors",
        "recovered from the guarantors",
        "Debits each guarantor's savings for their share of what is overdue (one entry per guarantor).",
    ),
    "recovery": LoanAction(
        "recovery",
        "Record recovery",
        "record_recovery",
        RecoveryForm,
        "record_recovery",
        "recovery recorded",
        "Money received on a written-off loan.",
    ),
}


def may_take(action: LoanAction, loan: Loan, user) -> bool:
    """The actor holds the permission of the action's step (LOAN_MACHINE), branch included."""
    if not action.step:
        return user.has_perm(REPAYMENT_PERMISSION)
    return LOAN_MACHINE.permits(loan, action.step, actor=user)


def possible_now(action: LoanAction, loan: Loan) -> bool:
    """The loan's status allows the action's step (LOAN_MACHINE's source states)."""
    if not action.step:
        return loan.status in REPAYMENT_STATUSES
    return LOAN_MACHINE.leaves_from(loan, action.step)


class LoanLifecycleMixin:
    """LoanAdmin's lifecycle views; the admin supplies `_loan_or_404`, `_context`, `_url`."""

    def buttons_for(self, request, loan: Loan) -> list[dict]:
        """The steps this person may take now. A pending approval request freezes the loan (only
        its deciders get Approve / Reject, which decide that request); the others wait for it."""
        pending = [r for r in _approval_requests_of(loan) if r.status == "PENDING"]
        to_decide = next((r for r in pending if r.action_type == "loan_approval"), None)
        buttons = []
        for action in ACTIONS.values():
            if not (possible_now(action, loan) and may_take(action, loan, request.user)):
                continue
            if not hasattr(services, action.service):
                continue
            if action.name in ("approve", "reject"):
                if to_decide is None or not can_decide(to_decide, request.user):
                    continue  # four-eyes, the level's role, one decision each: the service refuses too
            elif pending and action.name in ("guarantor", "disburse", "write_off"):
                continue  # the loan cannot change while a request is pending
            buttons.append({"name": action.name, "label": action.label, "url": self._url(action.name, loan)})
        return buttons

    # --- lifecycle actions ---

    def _action_form(self, request, action: LoanAction, data=None):
        if action.form_class is GuarantorForm:
            members = scope_queryset(Member.objects.filter(status="ACTIVE"), request.user)
            return GuarantorForm(data, members=members, admin_site=self.admin_site)
        return action.form_class(data)

    def _edit_form(self, loan: Loan, data=None):
        initial = {
            "principal": f"{loan.principal:.2f}",
            "term": loan.term,
            "first_due_date": loan.first_due_date,
            "purpose": loan.purpose,
        }
        return ApplicationChangeForm(data, initial=initial)

    def action_view(self, request, object_id, action: str):
        spec = ACTIONS[action]
        loan = self._loan_or_404(request, object_id)
        if not may_take(spec, loan, request.user):
            raise PermissionDenied
        change_url = reverse("admin:loans_loan_change", args=[loan.pk])
        if not possible_now(spec, loan):
            messages.error(request, f"A {loan.get_status_display().lower()} loan cannot be {spec.success}.")
            return HttpResponseRedirect(change_url)
        if spec.name == "repayment":
            return self._repayment_view(request, loan, spec)
        data = request.POST if request.method == "POST" else None
        form = self._edit_form(loan, data) if spec.name == "edit" else self._action_form(request, spec, data)
        status = 200
        if request.method == "POST":

            def done(_result):
                messages.success(request, self._outcome(loan, spec))
                return HttpResponseRedirect(change_url)

            outcome = submit_form(form, lambda data: self._call(request, loan, spec, data), done=done)
            if outcome.response is not None:
                return outcome.response
            status = outcome.error.status if outcome.error is not None else 400
        return self._action_page(request, loan, spec, form, status)

    def _outcome(self, loan: Loan, spec: LoanAction) -> str:
        """What happened: done, or asked and waiting for the approvers (a policy covers the step)."""
        after = Loan.objects.get(pk=loan.pk)
        waiting = requests_for(subject=after).filter(status="PENDING").order_by("-created_at").first()
        if after.status == loan.status and waiting is not None and spec.name != "edit":
            return (
                f"Loan {loan.loan_number}: {waiting.action_label.lower()} is waiting for approval "
                f"(level {waiting.level_label})."
            )
        if spec.name == "submit" and waiting is not None:
            return f"Loan {loan.loan_number} submitted: waiting for approval (level {waiting.level_label})."
        return f"Loan {loan.loan_number} {spec.success}."

    def _action_page(self, request, loan, spec, form, status=200, **extra):
        extra.setdefault("disbursement", _disbursement_figures(loan) if spec.name == "disburse" else None)
        extra.setdefault("write_off", write_off_figures(loan=loan) if spec.name == "write_off" else None)
        context = self._context(
            request,
            loan,
            f"{spec.label} – {loan.loan_number}",
            form=form,
            action=spec,
            media=self.media + form.media,
            form_url=self._url(spec.name, loan),
            **extra,
        )
        return TemplateResponse(request, "admin/loans/loan/action.html", context, status=status)

    def _call(self, request, loan: Loan, spec: LoanAction, data: dict):
        service = getattr(services, spec.service)
        actor = request.user
        if spec.name == "submit":
            return service(actor=actor, loan_id=loan.pk, comment=data.get("comment", ""))
        if spec.name == "edit":
            return service(
                actor=actor,
                loan_id=loan.pk,
                principal=data["principal"],
                term=data["term"],
                purpose=data["purpose"],
                first_due_date=data["first_due_date"],
            )
        if spec.name == "approve":
            return service(actor=actor, loan_id=loan.pk, comment=data.get("comment", ""))
        if spec.name in ("reject", "withdraw", "write_off"):
            return service(actor=actor, loan_id=loan.pk, reason=data["reason"])
        if spec.name == "disburse":
            return service(
                actor=actor,
                loan_id=loan.pk,
                disbursement_date=data.get("disbursement_date"),
                first_due_date=data.get("first_due_date"),
            )
        if spec.name == "guarantor":
            return service(
                actor=actor, loan_id=loan.pk, guarantor_member=data["guarantor"], amount=data["amount"]
            )
        if spec.name == "recover":
            return service(actor=actor, loan_id=loan.pk)
        if spec.name == "recovery":
            return service(actor=actor, loan_id=loan.pk, amount=data["amount"], source=data["source"])
        raise PermissionDenied  # pragma: no cover - every action is handled above

    def remove_guarantor_view(self, request, object_id, guarantor_id):
        loan = self._loan_or_404(request, object_id)
        if not LOAN_MACHINE.permits(loan, "remove_guarantor", actor=request.user):
            raise PermissionDenied
        guarantor = loan.guarantors.select_related("member").filter(pk=guarantor_id).first()
        if guarantor is None:
            raise Http404
        spec = LoanAction(
            "remove_guarantor", "Remove guarantor", "remove_guarantor", CommentForm, "", "changed"
        )
        form = CommentForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":

            def done(_result):
                messages.success(request, f"{guarantor.member} no longer guarantees {loan.loan_number}.")
                return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))

            outcome = submit_form(
                form,
                lambda data: services.remove_guarantor(actor=request.user, guarantor_id=guarantor.pk),
                done=done,
                on_field=False,
            )
            if outcome.response is not None:
                return outcome.response
            status = outcome.error.status if outcome.error is not None else 200
        title = f"Remove guarantor {guarantor.member} ({format_amount(guarantor.pledged_amount)})"
        return self._step_page(request, loan, spec, form, title, status)

    def _step_page(self, request, loan: Loan, spec: LoanAction, form, title: str, status: int):
        """The page of a step on one row of the loan (a guarantor, a payment): posts to itself."""
        context = self._context(
            request,
            loan,
            title,
            form=form,
            action=spec,
            media=self.media + form.media,
            form_url=request.path,
            disbursement=None,
        )
        return TemplateResponse(request, "admin/loans/loan/action.html", context, status=status)
