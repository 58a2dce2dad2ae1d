"""Admin forms of the loans app, and the product schedule preview shared by the admin and the API.

Forms only check shape; `loans.services` decides (a `DomainError` becomes a form error).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.utils import timezone

from cooperative.admin_scoping import SafeAutocompleteSelect
from cooperative.exceptions import ValidationFailed
from cooperative.forms import AmountField
from members.models import Member

from .models import Loan, LoanPayment, LoanProduct
from .schedule import ScheduleError, build_schedule
from .selectors import schedule_terms_for
from .services.applications import check_product_limits


class PreviewError(ValueError):
    """The preview inputs do not fit the product: `field` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def preview_schedule(
    product: LoanProduct,
    *,
    principal: Decimal,
    term: int,
    disbursed_on: date | None = None,
    first_due_on: date | None = None,
):
    """The schedule a loan of this product would get: a `loans.schedule.Schedule`.

    The terms come from `loans.selectors.schedule_terms_for` (what disbursement uses) and the engine
    is the one `manage.py loan_schedule` runs, so `.as_list()` is exactly the CLI's --json.
    The product's limits are the application service's rule, with its message."""
    try:
        check_product_limits(product, principal=principal, term=term)
    except ValidationFailed as exc:
        raise PreviewError(exc.message, field=exc.field) from exc
    disbursed_on = disbursed_on or timezone.localdate()
    if first_due_on is not None and first_due_on <= disbursed_on:
        raise PreviewError(
            f"The first due date ({first_due_on}) must be after the disbursement date ({disbursed_on}).",
            field="first_due_on",
        )
    try:
        terms = schedule_terms_for(
            product=product,
            principal=principal,
            term=term,
            disbursed_on=disbursed_on,
            first_due_on=first_due_on,
        )
        return build_schedule(terms)
    except ScheduleError as exc:
        raise PreviewError(str(exc)) from exc


class LoanApplicationForm(forms.Form):
    """The add view of a loan: who borrows, which product, how much, how long."""

    member = forms.ModelChoiceField(
        queryset=Member.objects.none(), help_text="Search by member number, name or phone."
    )
    product = forms.ModelChoiceField(queryset=LoanProduct.objects.none())
    principal = AmountField(label="Amount", help_text="Naira, e.g. 250000, 250,000.50 or ₦250 000.")
    term = forms.IntegerField(min_value=1, max_value=600, help_text="Number of installments.")
    first_due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: defaults to one period after disbursement.",
    )
    purpose = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, members, products, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"] = forms.ModelChoiceField(
            queryset=members,
            widget=SafeAutocompleteSelect(
                Loan._meta.get_field("member"),
                admin_site,
                attrs={"data-loans-member": "1", "style": "width: 28em"},
            ),
            help_text=self.fields["member"].help_text,
        )
        self.fields["product"].queryset = products
        self.fields["product"].widget.attrs["data-loans-product"] = "1"
        self.fields["principal"].widget.attrs["data-loans-principal"] = "1"
        self.fields["term"].widget.attrs["data-loans-term"] = "1"
        self.fields["first_due_date"].widget.attrs["data-loans-first-due"] = "1"

    def clean(self):
        cleaned = super().clean()
        product, principal, term = cleaned.get("product"), cleaned.get("principal"), cleaned.get("term")
        if product is not None and principal is not None and term is not None:
            try:
                check_product_limits(product, principal=principal, term=term)
            except ValidationFailed as exc:  # the service's rule and message, on the field it names
                self.add_error(exc.field, exc.message)
        return cleaned


class ApplicationChangeForm(forms.Form):
    """Correct a DRAFT application (the service re-checks the product's limits)."""

    principal = AmountField(label="Amount", help_text="Naira, e.g. 250000, 250,000.50 or ₦250 000.")
    term = forms.IntegerField(min_value=1, max_value=600, help_text="Number of installments.")
    first_due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    purpose = forms.CharField(max_length=255, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class CommentForm(forms.Form):
    comment = forms.CharField(
        max_length=255, required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


class DisburseForm(forms.Form):
    disbursement_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Default: today."
    )
    first_due_date = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Default: the application's first due date, or one period after disbursement.",
    )


class RepaymentForm(forms.Form):
    SOURCES = [
        (LoanPayment.Source.CASH, LoanPayment.Source.CASH.label),
        (LoanPayment.Source.SAVINGS, LoanPayment.Source.SAVINGS.label),
        (LoanPayment.Source.BANK, LoanPayment.Source.BANK.label),
    ]
    amount = AmountField(help_text="Naira, e.g. 9000 or 8884.88.")
    source = forms.ChoiceField(choices=SOURCES, initial=LoanPayment.Source.CASH)
    payment_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Default: today."
    )
    reference = forms.CharField(max_length=80, required=False, help_text="Receipt or transfer reference.")


class GuarantorForm(forms.Form):
    guarantor = forms.ModelChoiceField(queryset=Member.objects.none(), label="Guarantor (member)")
    amount = AmountField(label="Pledged amount", help_text="At most the guarantor's free savings.")

    def __init__(self, *args, members, admin_site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["guarantor"] = forms.ModelChoiceField(
            queryset=members,
            label="Guarantor (member)",
            widget=SafeAutocompleteSelect(
                Loan._meta.get_field("member"), admin_site, attrs={"style": "width: 28em"}
            ),
        )


class RecoveryForm(forms.Form):
    amount = AmountField()
    source = forms.ChoiceField(choices=RepaymentForm.SOURCES, initial=LoanPayment.Source.CASH)


class ReportForm(forms.Form):
    FORMATS = [("csv", "CSV"), ("xlsx", "Excel (XLSX)")]
    report = forms.ChoiceField(choices=())
    date_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), help_text="Or the 'as of' date."
    )
    format = forms.ChoiceField(choices=FORMATS, initial="csv")

    def __init__(self, *args, reports, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["report"].choices = [(name, spec.title) for name, spec in reports.items()]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
