"""Policy admin forms: the band rules (no overlap, no gap, an open top) as clear form errors."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet, BaseModelFormSet

from cooperative.models import Branch
from cooperative.roles import ROLE_DESCRIPTIONS, ROLES

from . import registry
from .models import ApprovalLevel, ApprovalPolicy
from .policies import Band, scope_problems

ROLE_CHOICES = [(role, role) for role in ROLES]
ROLES_HELP = "; ".join(f"{role}: {ROLE_DESCRIPTIONS.get(role, '')}" for role in ROLES)


def product_choices() -> list:
    """ "All products" plus each registered action type's products, grouped by action type."""
    groups = []
    for action in registry.action_types():
        if action.product_choices is None:
            continue
        groups.append((action.label, [(str(ref), label) for ref, label in action.product_choices()]))
    return [("", "All products"), *groups]


def _scope_key(action_type, branch_id, product_ref) -> tuple:
    return (action_type, str(branch_id) if branch_id else None, product_ref or "")


def _band_of(policy: ApprovalPolicy, **changes) -> Band:
    data = {
        "branch_id": policy.branch_id,
        "product_ref": policy.product_ref,
        "min_amount": policy.min_amount,
        "max_amount": policy.max_amount,
        **changes,
    }
    return Band(
        id=policy.pk,
        branch_id=str(data["branch_id"]) if data["branch_id"] else None,
        product_ref=data["product_ref"] or "",
        min_amount=data["min_amount"],
        max_amount=data["max_amount"],
    )


def stored_bands(action_type, branch_id, product_ref, *, exclude=()) -> list[Band]:
    rows = ApprovalPolicy.objects.filter(
        action_type=action_type, branch_id=branch_id, product_ref=product_ref or "", active=True
    ).exclude(pk__in=[pk for pk in exclude if pk])
    return [_band_of(row) for row in rows]


def scope_description(action_type, branch, product_ref) -> str:
    return (
        f"{registry.action_label(action_type)} for {branch or 'all branches'}, "
        f"{('product ' + product_ref) if product_ref else 'all products'}"
    )


class ApprovalPolicyForm(forms.ModelForm):
    action_type = forms.ChoiceField(label="Action type", help_text="What needs approving.")
    product_ref = forms.ChoiceField(
        label="Product", required=False, help_text=ApprovalPolicy._meta.get_field("product_ref").help_text
    )
    escalation_roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=ApprovalPolicy._meta.get_field("escalation_roles").help_text,
    )

    class Meta:
        model = ApprovalPolicy
        fields = (
            "action_type",
            "branch",
            "product_ref",
            "min_amount",
            "max_amount",
            "active",
            "remind_after_hours",
            "timeout_after_hours",
            "on_timeout",
            "escalation_roles",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action_type"].choices = [("", "---------"), *registry.action_choices()]
        choices = product_choices()
        current = self.instance.product_ref if self.instance.pk else ""
        known = {value for _group, options in choices[1:] for value, _label in options}
        if current and current not in known:
            choices.append((current, f"{current} (no longer offered)"))
        self.fields["product_ref"].choices = choices

    def clean_action_type(self):
        value = self.cleaned_data["action_type"]
        if value not in dict(registry.action_choices()):
            raise ValidationError("Choose an action type from the list.")
        return value

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        low, high = cleaned.get("min_amount"), cleaned.get("max_amount")
        if low is not None and low < 0:
            self.add_error("min_amount", "The band cannot start below ₦0.00.")
            return cleaned
        if low is not None and high is not None and high <= low:
            self.add_error("max_amount", "The upper limit must be above where the band starts.")
            return cleaned
        action_type, branch, product = (
            cleaned["action_type"],
            cleaned.get("branch"),
            cleaned.get("product_ref"),
        )
        branch_id = branch.pk if branch else None
        problems = []
        # The scope this band is in after the save...
        if cleaned.get("active"):
            band = Band(
                id=self.instance.pk,
                branch_id=str(branch_id) if branch_id else None,
                product_ref=product or "",
                min_amount=low,
                max_amount=high,
            )
            others = stored_bands(action_type, branch_id, product, exclude=[self.instance.pk])
            problems += scope_problems([*others, band])
        # ...and the scope it leaves (moved elsewhere or switched off) must stay well formed.
        if self.instance.pk and self.instance.active:
            old = _scope_key(self.instance.action_type, self.instance.branch_id, self.instance.product_ref)
            new = _scope_key(action_type, branch_id, product)
            if old != new or not cleaned.get("active"):
                remaining = stored_bands(*old, exclude=[self.instance.pk])
                problems += [f"Without this band: {p}" for p in scope_problems(remaining)]
        if problems:
            scope = scope_description(action_type, branch, product)
            raise ValidationError(
                [f"{scope}: {problem}" for problem in problems]
                + ["To move the boundary between two bands, edit both on the list page and save once."]
            )
        return cleaned


class ApprovalLevelForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=ROLE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Anyone holding one of the ticked roles may approve at this level.",
    )

    class Meta:
        model = ApprovalLevel
        fields = ("order", "roles", "required_approvals")

    def clean_required_approvals(self):
        value = self.cleaned_data["required_approvals"]
        if value is None or value < 1:
            raise ValidationError("At least one approval is needed per level.")
        return value


class ApprovalLevelFormSet(BaseInlineFormSet):
    def clean(self):
        orders = []
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            order = form.cleaned_data.get("order")
            if order is not None:
                orders.append(order)
        if len(orders) != len(set(orders)):
            raise ValidationError("Each level needs its own order number (1, 2, 3 …).")
        if not orders and not any(form.errors for form in self.forms):
            raise ValidationError("A band needs at least one approval level.")
        super().clean()


class BandListForm(forms.ModelForm):
    """The list page's editable amounts: checked together for the whole scope by the formset."""

    class Meta:
        model = ApprovalPolicy
        fields = ("min_amount", "max_amount", "active")
        widgets = {
            "min_amount": forms.NumberInput(attrs={"size": 12, "style": "width:9em"}),
            "max_amount": forms.NumberInput(
                attrs={"size": 12, "style": "width:9em", "placeholder": "no limit"}
            ),
        }


class BandListFormSet(BaseModelFormSet):
    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        edited: dict[tuple, dict] = {}
        for form in self.forms:
            policy = form.instance
            data = form.cleaned_data
            key = _scope_key(policy.action_type, policy.branch_id, policy.product_ref)
            low, high = data.get("min_amount"), data.get("max_amount")
            if high is not None and low is not None and high <= low:
                raise ValidationError(f"{policy}: the upper limit must be above where the band starts.")
            edited.setdefault(key, {})[policy.pk] = (
                _band_of(policy, min_amount=low, max_amount=high) if data.get("active") else None
            )
        problems = []
        for key, bands in edited.items():
            others = stored_bands(*key, exclude=list(bands))
            scope_bands = [*others, *(band for band in bands.values() if band is not None)]
            for problem in scope_problems(scope_bands):
                action_type, branch_id, product = key
                branch = Branch.objects.filter(pk=branch_id).first() if branch_id else None
                problems.append(f"{scope_description(action_type, branch, product)}: {problem}")
        if problems:
            raise ValidationError(problems)
