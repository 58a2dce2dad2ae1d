"""Admin forms for the ledger. They check shape only; the services decide."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, cast

from django import forms
from django.utils import timezone

from cooperative.forms import AmountField

from .models import MEMBER_ACCOUNT_TYPES, Account, AccountType
from .selectors import teller_cash_of_branch
from .services import DEPOSIT_ACCOUNT_TYPES

if TYPE_CHECKING:
    from django.db.models import Model

    from cooperative.models import Branch


class MoneyMovementForm(forms.Form):
    """Deposit or withdrawal at the counter."""

    amount = AmountField(help_text="In naira, e.g. 15000, 15,000.50 or ₦15 000.")
    channel = forms.ChoiceField(
        choices=(("cash", "Cash at the counter"), ("bank", "Bank transfer / cheque")), initial="cash"
    )
    description = forms.CharField(max_length=200, required=False)


class TransferForm(forms.Form):
    to_account_number = forms.CharField(
        label="To account number", max_length=10, min_length=10, help_text="The 10-digit account number."
    )
    amount = AmountField(help_text="In naira, e.g. 15000, 15,000.50 or ₦15 000.")
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, source: Account, **kwargs):
        self.source = source
        super().__init__(*args, **kwargs)

    def clean_to_account_number(self) -> Account:
        number = self.cleaned_data["to_account_number"].strip()
        if not number.isdigit():
            raise forms.ValidationError("Account numbers are 10 digits.")
        # Like a bank's name enquiry: any branch's member account can receive a transfer.
        target = (
            Account.objects.select_related("member", "branch")
            .filter(account_number=number, type__in=DEPOSIT_ACCOUNT_TYPES)
            .first()
        )
        if target is None:
            raise forms.ValidationError("No member savings, shares or cash account has this number.")
        if target.pk == self.source.pk:
            raise forms.ValidationError("Choose a different account from the one you are paying from.")
        return target


class TellerCashChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:
        if obj.till_teller_id:
            return f"{obj.account_number} {obj.name}"
        return f"{obj.account_number} Vault ({obj.name})"


class TillCashForm(forms.Form):
    """Cash between the vault and a till of one branch (a float, cash returned at close)."""

    to_account = TellerCashChoiceField(
        label="To",
        queryset=Account.objects.none(),
        help_text="The vault or the teller's till that receives the cash.",
    )
    amount = AmountField(help_text="In naira, e.g. 15000, 15,000.50 or ₦15 000.")
    description = forms.CharField(max_length=200, required=False, help_text="e.g. Morning float, End of day.")

    def __init__(self, *args, source: Account, **kwargs):
        super().__init__(*args, **kwargs)
        field = cast(TellerCashChoiceField, self.fields["to_account"])
        field.queryset = (
            teller_cash_of_branch(branch_id=source.branch_id)
            .filter(status=Account.Status.ACTIVE)
            .exclude(pk=source.pk)
        )
        choices = list(field.queryset[:2])
        if len(choices) == 1:  # a till's only counterpart is usually the vault: preselect it
            field.initial = choices[0].pk


class TillDayForm(forms.Form):
    """Which branch and day the tills page shows (GET)."""

    branch: forms.ModelChoiceField[Branch] = forms.ModelChoiceField(queryset=None, empty_label=None)
    day = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, branches, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["branch"]).queryset = branches

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > timezone.localdate():
            raise forms.ValidationError("Choose today or an earlier day.")
        return day


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"size": 60}))

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give a reason.")
        return reason


class CloseAccountForm(ReasonForm):
    sweep_to_account_number = forms.CharField(
        label="Sweep the balance to account",
        max_length=10,
        min_length=10,
        required=False,
        help_text="Only when the account still holds money: the 10-digit number of the member "
        "savings, shares or cash account that receives it.",
    )

    def clean_sweep_to_account_number(self) -> Account | None:
        number = self.cleaned_data["sweep_to_account_number"].strip()
        if not number:
            return None
        if not number.isdigit():
            raise forms.ValidationError("Account numbers are 10 digits.")
        target = Account.objects.filter(account_number=number, type__in=DEPOSIT_ACCOUNT_TYPES).first()
        if target is None:
            raise forms.ValidationError("No member savings, shares or cash account has this number.")
        return target


class OpenAccountForm(forms.Form):
    member: forms.ModelChoiceField[Model] = forms.ModelChoiceField(queryset=None)
    account_type = forms.ChoiceField(
        label="Type", choices=[(t.value, t.label) for t in MEMBER_ACCOUNT_TYPES if t != AccountType.LOAN]
    )
    minimum_balance = AmountField(required=False, help_text="Empty: the product default.")
    daily_withdrawal_limit = AmountField(required=False, help_text="Empty: the product default.")

    def __init__(self, *args, members, member_widget=None, **kwargs):
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["member"])
        if member_widget is not None:
            member_widget.is_required = field.required
            field.widget = member_widget
        field.queryset = members  # also hands the choices to the (new) widget


class StatementForm(forms.Form):
    FORMATS = (("pdf", "PDF (print)"), ("xlsx", "Excel (.xlsx)"), ("csv", "CSV"))

    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    format = forms.ChoiceField(choices=FORMATS, initial="pdf")

    @classmethod
    def initial_for_today(cls) -> dict:
        today = timezone.localdate()
        return {"date_from": today - timedelta(days=90), "date_to": today, "format": "pdf"}

    def clean(self):
        cleaned = super().clean()
        assert cleaned is not None  # Form.clean returns cleaned_data
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
