"""The loan application in the admin: the add view (member autocomplete, eligibility and a live
schedule preview) and its two JSON helpers."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from cooperative.exceptions import DomainError
from cooperative.money import format_amount, parse_amount
from cooperative.permissions import scope_queryset
from members.models import Member

from .. import selectors, services
from ..forms import LoanApplicationForm, PreviewError, preview_schedule
from ..models import LoanProduct
from .common import _date_or_none, _uuid_or_none


class LoanApplicationMixin:
    # --- application (add view) ---

    def _application_form(self, request, data=None):
        members = scope_queryset(Member.objects.all(), request.user)
        return LoanApplicationForm(
            data,
            members=members,
            products=LoanProduct.objects.filter(active=True),
            admin_site=self.admin_site,
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = self._application_form(request, request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                loan = services.create_application(
                    actor=request.user,
                    member=data["member"],
                    product=data["product"],
                    principal=data["principal"],
                    term=data["term"],
                    purpose=data["purpose"],
                    loan_officer=request.user,
                    first_due_date=data["first_due_date"],
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                messages.success(request, f"Application {loan.loan_number} saved as a draft.")
                return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))
        elif request.method == "POST":
            status = 400
        context = self._context(
            request,
            None,
            "New loan application",
            form=form,
            media=self.media + form.media,
            preview_url=reverse("admin:loans_loan_preview"),
            eligibility_url=reverse("admin:loans_loan_eligibility"),
        )
        return TemplateResponse(request, "admin/loans/loan/application.html", context, status=status)

    def preview_json(self, request):
        """GET product, principal, term, first_due -> the schedule the application would get."""
        if not (self.has_add_permission(request) or self.has_view_permission(request)):
            raise PermissionDenied
        params = request.GET
        product = LoanProduct.objects.filter(pk=_uuid_or_none(params.get("product"))).first()
        if product is None:
            return JsonResponse({"error": "Choose a product.", "field": "product"}, status=400)
        try:
            principal = parse_amount((params.get("principal") or "").replace(",", ""))
        except (ValueError, ArithmeticError):
            return JsonResponse({"error": "Enter the amount, e.g. 250000.", "field": "principal"}, status=400)
        try:
            term = int(params.get("term") or "")
        except ValueError:
            return JsonResponse({"error": "Enter the number of installments.", "field": "term"}, status=400)
        first_due = _date_or_none(params.get("first_due"))
        try:
            schedule = preview_schedule(product, principal=principal, term=term, first_due_on=first_due)
        except PreviewError as exc:
            return JsonResponse({"error": exc.message, "field": exc.field}, status=400)
        return JsonResponse(
            {
                "rows": schedule.as_list(),
                "totals": {
                    "principal": str(schedule.total_principal),
                    "interest": str(schedule.total_interest),
                    "total": str(schedule.total_repayment),
                },
            }
        )

    def eligibility_json(self, request):
        """GET member, product, principal -> savings, ceiling, active loans and pass/fail reasons."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        params = request.GET
        member = scope_queryset(Member.objects.all(), request.user).filter(
            pk=_uuid_or_none(params.get("member"))
        )
        member = member.first()
        if member is None:
            return JsonResponse({"error": "Choose a member.", "field": "member"}, status=400)
        product = LoanProduct.objects.filter(pk=_uuid_or_none(params.get("product"))).first()
        if product is None:
            return JsonResponse({"error": "Choose a product.", "field": "product"}, status=400)
        try:
            principal = parse_amount((params.get("principal") or "").replace(",", ""))
        except (ValueError, ArithmeticError):
            principal = product.min_amount
        result = selectors.check_eligibility(member=member, product=product, principal=principal)
        return JsonResponse(
            {
                "member": f"{member.first_name} {member.last_name} ({member.member_number})",
                "eligible": result.eligible,
                "reasons": list(result.reasons),
                "savings": format_amount(result.savings),
                "shares": format_amount(result.shares),
                "ceiling": format_amount(result.ceiling) if result.ceiling is not None else "no ceiling",
                "active_loans": result.active_loans,
                "membership_months": result.membership_months,
            }
        )
