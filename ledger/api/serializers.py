"""Shapes of the ledger API. Serializers check shape; `ledger.services` decides.

Money goes out as strings with two decimals ("1500.00") and comes in through `AmountField`, which
applies `cooperative.money.parse_amount`: a string such as "1500.00" or an exact JSON number
(1500, 1500.5). Numbers are parsed from their literal digits (see `parsers.DecimalJSONParser`), so a
float artefact like 0.30000000000000004 has more than two decimals and is refused, never rounded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import cast

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cooperative.money import parse_amount
from cooperative.permissions import granted_object_pks, scope_queryset, sees_all_branches, user_branch_ids

from ..models import Account, AccountType, JournalEntry, Transaction
from ..services import DEPOSIT_ACCOUNT_TYPES

OPENABLE_TYPES = (AccountType.SAVINGS, AccountType.SHARES, AccountType.CASH)
CHANNELS = (("cash", "Cash at the counter (teller cash)"), ("bank", "Bank transfer (bank account)"))


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=18, decimal_places=2, read_only=True, **kwargs)


PRIVATE_HELP = "Null when the account belongs to a branch you do not work in (e.g. a transfer's receiver)."
BALANCE_FIELDS = ("balance", "held_amount", "available_balance", "balance_after")


def _hide_balances_outside_scope(serializer, account, data: dict) -> dict:
    """A transfer may credit another branch's account; its figures stay private to that branch.

    Only applied when the serializer has the request in its context (transfers and journal reads);
    the rows of the caller's own branches need no query, a grant is looked up once per response."""
    request = serializer.context.get("request")
    if request is None or account is None:
        return data
    user = request.user
    if sees_all_branches(user) or account.branch_id in set(user_branch_ids(user)):
        return data
    cache = serializer.context.setdefault("_granted_account_pks", {})
    if "pks" not in cache:
        cache["pks"] = set(granted_object_pks(user, Account))
    if account.pk in cache["pks"]:
        return data
    return {key: (None if key in BALANCE_FIELDS else value) for key, value in data.items()}


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{1,15}(\.\d{1,2})?$",
        "example": "1500.00",
        "description": "A positive amount with at most two decimals, below 10^15. Send a string; "
        "an exact JSON number with at most two decimals is accepted too.",
    }
)
class AmountField(serializers.Field):
    default_error_messages = {"invalid": "Enter a valid amount, e.g. 1500.00."}

    def to_internal_value(self, data) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, (str, int, Decimal)):
            self.fail("invalid")
        try:
            return parse_amount(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        except ArithmeticError as exc:
            # parse_amount's quantize overflows past 28 digits (e.g. "1e400"): still bad input.
            negative = str(data).strip().startswith("-")
            message = "The amount must be greater than zero." if negative else "The amount is too large."
            raise serializers.ValidationError(message) from exc

    def to_representation(self, value) -> str:
        return f"{value:.2f}"


def _account_ref(queryset, *, help_text: str) -> serializers.PrimaryKeyRelatedField:
    return serializers.PrimaryKeyRelatedField(
        queryset=queryset,
        pk_field=serializers.UUIDField(),
        help_text=help_text,
        error_messages={"does_not_exist": "No account with id {pk_value} that you may use here."},
    )


# --- Accounts -------------------------------------------------------------------------------------


def _member_model():
    """The member model, reached through `Account.member` (a string foreign key): the ledger
    imports no domain app (DESIGN §2)."""
    return Account._meta.get_field("member").related_model


# The owner of an account, as loaded with it (`select_related("member")`).
class MemberSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    member_number = serializers.CharField(read_only=True)
    first_name = serializers.CharField(read_only=True)
    last_name = serializers.CharField(read_only=True)
    full_name = serializers.SerializerMethodField()
    status = serializers.ChoiceField(
        choices=_member_model()._meta.get_field("status").choices, read_only=True
    )

    def get_full_name(self, obj) -> str:
        return f"{obj.first_name} {obj.last_name}".strip()


class BranchSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class AccountSerializer(serializers.ModelSerializer):
    balance = _money()
    held_amount = _money(help_text="Liens on the balance (e.g. guarantor pledges).")
    available_balance = _money(help_text="What can be withdrawn: balance − held − minimum balance.")
    minimum_balance = _money()
    daily_withdrawal_limit = _money(allow_null=True, help_text="Null: no daily limit.")
    member = MemberSummarySerializer(read_only=True)
    branch = BranchSummarySerializer(read_only=True)

    class Meta:
        model = Account
        fields = (
            "id",
            "account_number",
            "name",
            "type",
            "status",
            "status_reason",
            "currency",
            "balance",
            "held_amount",
            "available_balance",
            "minimum_balance",
            "daily_withdrawal_limit",
            "member",
            "branch",
            "opened_at",
            "closed_at",
        )
        read_only_fields = fields


class AccountCreateSerializer(serializers.Serializer):
    member = serializers.PrimaryKeyRelatedField(
        queryset=_member_model()._default_manager.none(),
        pk_field=serializers.UUIDField(),
        help_text="The member's id; the member must be in a branch you can see.",
        error_messages={"does_not_exist": "No member with id {pk_value} in the branches you can see."},
    )
    type = serializers.ChoiceField(choices=[(t.value, t.label) for t in OPENABLE_TYPES])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = request.user if request is not None else None
        cast(serializers.PrimaryKeyRelatedField, self.fields["member"]).queryset = scope_queryset(
            _member_model()._default_manager.all(), user
        )


class AccountBalanceSerializer(serializers.ModelSerializer):
    """An account's figures right after a posting (null for another branch's account)."""

    balance = _money(allow_null=True, help_text=PRIVATE_HELP)
    held_amount = _money(allow_null=True, help_text=PRIVATE_HELP)
    available_balance = _money(allow_null=True, help_text=PRIVATE_HELP)

    class Meta:
        model = Account
        fields = ("id", "account_number", "currency", "status", "balance", "held_amount", "available_balance")
        read_only_fields = fields

    def to_representation(self, instance):
        return _hide_balances_outside_scope(self, instance, super().to_representation(instance))


# --- Journal entries and legs ---------------------------------------------------------------------


class LegSerializer(serializers.ModelSerializer):
    account_number = serializers.CharField(source="account.account_number", read_only=True)
    amount = _money()
    balance_after = _money(
        allow_null=True, help_text="The account's balance just after this leg. " + PRIVATE_HELP
    )

    class Meta:
        model = Transaction
        fields = ("id", "account", "account_number", "type", "amount", "balance_after", "description")
        read_only_fields = fields

    def to_representation(self, instance):
        return _hide_balances_outside_scope(self, instance.account, super().to_representation(instance))


ENTRY_FIELDS = (
    "id",
    "reference",
    "kind",
    "narration",
    "value_date",
    "posted_at",
    "posted_by",
    "branch",
    "reverses",
    "reversal_reason",
)


class PostedEntrySerializer(serializers.ModelSerializer):
    """The entry a POST has just written, with its legs."""

    legs = LegSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields: tuple[str, ...] = (*ENTRY_FIELDS, "legs")
        read_only_fields: tuple[str, ...] = fields


class JournalEntrySerializer(PostedEntrySerializer):
    reversed_by = serializers.SerializerMethodField(help_text="The id of the entry that reversed this one.")

    class Meta(PostedEntrySerializer.Meta):
        fields = (*ENTRY_FIELDS, "reversed_by", "legs")
        read_only_fields = fields

    def get_reversed_by(self, obj) -> str | None:
        try:
            return str(obj.reversed_by.pk)
        except JournalEntry.DoesNotExist:
            return None


class AccountPostingSerializer(PostedEntrySerializer):
    """A deposit or withdrawal: the entry plus the member account's new figures."""

    account = AccountBalanceSerializer(read_only=True)

    class Meta(PostedEntrySerializer.Meta):
        fields = (*PostedEntrySerializer.Meta.fields, "account")
        read_only_fields = fields


class TransferResultSerializer(PostedEntrySerializer):
    from_account = AccountBalanceSerializer(read_only=True)
    to_account = AccountBalanceSerializer(read_only=True)

    class Meta(PostedEntrySerializer.Meta):
        fields = (*PostedEntrySerializer.Meta.fields, "from_account", "to_account")
        read_only_fields = fields


class TransactionSerializer(serializers.ModelSerializer):
    """One leg as an account's movement."""

    entry = serializers.UUIDField(source="entry_id", read_only=True)
    kind = serializers.CharField(source="entry.kind", read_only=True)
    account_number = serializers.CharField(source="account.account_number", read_only=True)
    amount = _money()
    balance_after = _money()

    class Meta:
        model = Transaction
        fields = (
            "id",
            "entry",
            "reference",
            "kind",
            "account",
            "account_number",
            "branch",
            "type",
            "amount",
            "balance_after",
            "description",
            "status",
            "value_date",
            "created_at",
            "reconciliation_status",
            "reconciled_at",
        )
        read_only_fields = fields


# --- Inputs of the money-moving endpoints ---------------------------------------------------------


class AccountPostingInputSerializer(serializers.Serializer):
    amount = AmountField()
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    channel = serializers.ChoiceField(
        choices=CHANNELS, required=False, default="cash", help_text="Where the money comes from or goes."
    )


_CHANNEL_VALUES = frozenset(value for value, _ in CHANNELS)


def plain_posting_input(data) -> dict | None:
    """`AccountPostingInputSerializer(data=data).validated_data` for a well-formed body, without
    DRF's field machinery (the posting hot path). None for anything unusual (missing or odd
    amount, non-string description, unknown channel …): the serializer then names the problem.
    tests/ledger/test_posting_fast_path.py checks both agree."""
    if not isinstance(data, dict):
        return None
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (str, int, Decimal)):
        return None
    try:
        amount = parse_amount(amount)
    except (ValueError, ArithmeticError):
        return None
    description = data.get("description", "")
    if not isinstance(description, str):
        return None
    description = description.strip()
    if len(description) > 255 or "\x00" in description:
        return None
    if not description.isprintable() and any("\ud800" <= char <= "\udfff" for char in description):
        return None  # DRF refuses surrogate characters
    channel = data.get("channel", "cash")
    if not isinstance(channel, str) or channel not in _CHANNEL_VALUES:
        return None
    return {"amount": amount, "description": description, "channel": channel}


def _amount_text(value) -> str | None:
    return None if value is None else f"{value.quantize(Decimal('0.01')):f}"


def posting_data(entry: JournalEntry, account: Account) -> dict:
    """`AccountPostingSerializer(entry).data` (entry.account = account) as plain JSON values,
    built without DRF's per-field machinery: the posting views answer while the accounts are
    still locked. tests/ledger/test_posting_fast_path.py checks it matches the serializer."""
    posted_at = timezone.localtime(entry.posted_at).isoformat()
    if posted_at.endswith("+00:00"):
        posted_at = posted_at[:-6] + "Z"
    return {
        "id": str(entry.pk),
        "reference": entry.reference,
        "kind": str(entry.kind),
        "narration": entry.narration,
        "value_date": entry.value_date.isoformat(),
        "posted_at": posted_at,
        "posted_by": None if entry.posted_by_id is None else str(entry.posted_by_id),
        "branch": str(entry.branch_id),
        "reverses": None if entry.reverses_id is None else str(entry.reverses_id),
        "reversal_reason": entry.reversal_reason,
        "legs": [
            {
                "id": str(leg.pk),
                "account": str(leg.account_id),
                "account_number": leg.account.account_number,
                "type": str(leg.type),
                "amount": _amount_text(leg.amount),
                "balance_after": _amount_text(leg.balance_after),
                "description": leg.description,
            }
            for leg in entry.legs.all()
        ],
        "account": {
            "id": str(account.pk),
            "account_number": account.account_number,
            "currency": account.currency,
            "status": str(account.status),
            "balance": _amount_text(account.balance),
            "held_amount": _amount_text(account.held_amount),
            "available_balance": _amount_text(account.available_balance),
        },
    }


class TransferInputSerializer(serializers.Serializer):
    from_account = _account_ref(
        Account.objects.none(), help_text="The paying member account (in a branch you work in)."
    )
    to_account = _account_ref(Account.objects.none(), help_text="The receiving member account (any branch).")
    amount = AmountField()
    description = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = request.user if request is not None else None
        deposit_accounts = Account.objects.filter(member__isnull=False, type__in=DEPOSIT_ACCOUNT_TYPES)
        cast(serializers.PrimaryKeyRelatedField, self.fields["from_account"]).queryset = scope_queryset(
            deposit_accounts, user
        )
        cast(serializers.PrimaryKeyRelatedField, self.fields["to_account"]).queryset = deposit_accounts

    def validate(self, attrs):
        if attrs["from_account"].pk == attrs["to_account"].pk:
            raise serializers.ValidationError({"to_account": "Choose two different accounts."})
        return attrs


class ReverseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255, help_text="Why the entry is reversed (kept on record).")


# --- Documentation only ---------------------------------------------------------------------------


class LedgerPendingApprovalSerializer(serializers.Serializer):
    """202 Accepted: the action waits for approval (ledger.approval_actions.Pending.as_data)."""

    status = serializers.ChoiceField(choices=["PENDING_APPROVAL"])
    approval_request = serializers.UUIDField(help_text="Follow it: GET /api/v1/approvals/{id}/.")
    posting_request = serializers.UUIDField(
        required=False, help_text="Withdrawals and transfers: what will be posted (its amount is held)."
    )
    action_type = serializers.CharField(help_text="withdrawal, transfer or reversal.")
    amount = serializers.CharField(help_text="Decimal string.")
    required_approvers = serializers.IntegerField(help_text="Approvals needed at the current level.")
    approval_level = serializers.CharField(help_text='e.g. "1 of 1".')
    detail = serializers.CharField()


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the offending field.")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details (Content-Type application/problem+json)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    request_id = serializers.CharField(required=False)
    # A declared field: DRF's metaclass takes it out of the class, Serializer.errors is untouched.
    errors = ProblemFieldErrorSerializer(many=True, required=False)  # type: ignore[assignment]
