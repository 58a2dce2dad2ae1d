"""Repayments in the admin: recording one behind a confirmation step (its one-time token is the
idempotency key) and reversing one (LoanAdmin mixes them in)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from cooperative.admin_confirm import Confirmation, add_domain_error, submit_form
from cooperative.exceptions import DomainError
from cooperative.money import amount_in_words, format_amount

from .. import services
from ..forms import ReasonForm, RepaymentForm
from ..models import Loan, LoanPayment
from .common import MAX_PENDING, PENDING_SESSION_KEY, _date_or_none, _payment_by_key
from .lifecycle import LoanAction


class LoanRepaymentsMixin:
    """The repayment views of LoanAdmin; the admin supplies `_loan_or_404`, `_context`, `_url`,
    `_action_page`."""

    # --- repayment with a confirmation step (the one-time token is the idempotency key) ---

    def _repayment_view(self, request, loan: Loan, spec: LoanAction):
        confirmation = Confirmation(request, PENDING_SESSION_KEY, limit=MAX_PENDING)
        if request.method == "POST" and request.POST.get("confirmation_token"):
            return self._repayment_confirmed(
                request, loan, spec, confirmation, request.POST["confirmation_token"]
            )
        form = RepaymentForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            token = confirmation.issue(
                {
                    "loan_id": str(loan.pk),
                    "amount": str(data["amount"]),
                    "source": data["source"],
                    "payment_date": data["payment_date"].isoformat() if data["payment_date"] else "",
                    "reference": data["reference"],
                }
            )
            amount = data["amount"]
            context = self._context(
                request,
                loan,
                "Confirm repayment",
                action=spec,
                token=token,
                amount=format_amount(amount),
                amount_words=amount_in_words(amount, "NGN"),
                source=dict(RepaymentForm.SOURCES).get(data["source"], data["source"]),
                payment_date=data["payment_date"] or timezone.localdate(),
                reference=data["reference"],
                form_url=self._url(spec.name, loan),
            )
            return TemplateResponse(request, "admin/loans/loan/repayment_confirm.html", context)
        return self._action_page(request, loan, spec, form, 400 if request.method == "POST" else 200)

    def _repayment_confirmed(self, request, loan: Loan, spec: LoanAction, confirmation, token: str):
        change_url = reverse("admin:loans_loan_change", args=[loan.pk])

        def replayed(idempotency_key: str):
            if _payment_by_key(idempotency_key) is None:
                return None
            messages.warning(request, "This repayment was already recorded; nothing was posted again.")
            return HttpResponseRedirect(change_url)

        def post(payload: dict, idempotency_key: str):
            return services.record_repayment(
                actor=request.user,
                loan_id=loan.pk,
                amount=Decimal(payload["amount"]),
                source=payload["source"],
                payment_date=_date_or_none(payload["payment_date"]),
                reference=payload["reference"],
                idempotency_key=idempotency_key,
            )

        def refused(payload: dict, exc: DomainError):
            form = RepaymentForm({k: payload[k] for k in ("amount", "source", "payment_date", "reference")})
            form.is_valid()
            add_domain_error(form, exc)
            return self._action_page(request, loan, spec, form, exc.status)

        def done(payload: dict, payment):
            messages.success(
                request, f"Repayment of {format_amount(payment.amount)} NGN recorded on {loan.loan_number}."
            )
            return HttpResponseRedirect(change_url)

        return confirmation.post(
            token,
            belongs=lambda payload: payload["loan_id"] == str(loan.pk),
            service=post,
            done=done,
            refused=refused,
            replayed=replayed,
            start_again_url=self._url(spec.name, loan),
        )

    def reverse_payment_view(self, request, object_id, payment_id):
        loan = self._loan_or_404(request, object_id)
        if not request.user.has_perm("loans.reverse_repayment"):
            raise PermissionDenied
        payment = LoanPayment.objects.filter(loan=loan, pk=payment_id).first()
        if payment is None:
            raise Http404
        spec = LoanAction("reverse_payment", "Reverse repayment", "", ReasonForm, "", "reversed")
        form = ReasonForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":

            def reverse_it(data: dict):
                return services.reverse_repayment(
                    actor=request.user, payment_id=payment.pk, reason=data["reason"]
                )

            def done(_result):
                messages.success(request, f"Repayment of {format_amount(payment.amount)} reversed.")
                return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))

            outcome = submit_form(form, reverse_it, done=done, on_field=False)
            if outcome.response is not None:
                return outcome.response
            status = outcome.error.status if outcome.error is not None else 400
        title = f"Reverse repayment of {format_amount(payment.amount)} ({payment.payment_date})"
        return self._step_page(request, loan, spec, form, title, status)
