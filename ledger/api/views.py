"""Ledger API: accounts, the money-moving endpoints, movements and journal entries.

Every lookup goes through the caller's branch scope first (another branch's account is a 404, just
like one that does not exist); then the service decides (`DomainError` -> 400/403/409 problem).
Money-moving POSTs are `@idempotent` and need an `Idempotency-Key` header; the key, namespaced by
user, also goes down to `post_entry` so the ledger itself refuses a second posting.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import filters, generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cooperative.api.errors import PROBLEM_CONTENT_TYPE
from cooperative.api.pagination import CreatedAtCursorPagination
from cooperative.api.permissions import DefaultApiPermission, HasPerm
from cooperative.authz import user_authz
from cooperative.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    idempotent,
    json_response,
    service_idempotency_key,
)
from cooperative.permissions import get_scoped_object_or_404
from cooperative.roles import PARTNER

from .. import services
from ..exceptions import AccountNotFound, AccountNotVisible
from ..models import Account, JournalEntry, Transaction
from ..posting_sql import CompanionRow
from ..selectors import (
    account_legs,
    entry_with_legs,
    journal_entries_visible_to,
    legs_visible_to,
    member_accounts,
    member_accounts_visible_to,
)
from ..services import Pending
from .filters import AccountFilter, AccountTransactionFilter, JournalEntryFilter, TransactionFilter
from .parsers import DecimalJSONParser
from .serializers import (
    AccountCreateSerializer,
    AccountPostingInputSerializer,
    AccountPostingSerializer,
    AccountSerializer,
    JournalEntrySerializer,
    LedgerPendingApprovalSerializer,
    PostedEntrySerializer,
    ProblemSerializer,
    ReverseInputSerializer,
    TransactionSerializer,
    TransferInputSerializer,
    TransferResultSerializer,
    plain_posting_input,
    posting_data,
)

ACCOUNT_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Account id.")
ENTRY_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Journal entry id.")


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ProblemSerializer, description=description)


POSTING_ERRORS = {
    (400, PROBLEM_CONTENT_TYPE): _problem(
        "Invalid input (field named in `errors`), missing Idempotency-Key, currency mismatch."
    ),
    (403, PROBLEM_CONTENT_TYPE): _problem("Not permitted (role or branch)."),
    (404, PROBLEM_CONTENT_TYPE): _problem("No such account / entry among those you can see."),
    (409, PROBLEM_CONTENT_TYPE): _problem(
        "Account frozen or closed, insufficient funds, daily limit, Idempotency-Key reused."
    ),
}


class PartnersPostDepositsOnly(permissions.BasePermission):
    """Partner systems may deposit (when granted `ledger.post_transaction`) but never take money out."""

    message = "Partner systems may post deposits only."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if user.is_superuser:
            return True
        authz = user_authz(user)
        return authz is not None and PARTNER not in authz.group_names


def _account_of(entry: JournalEntry, account_id) -> Account:
    return next(leg.account for leg in entry.legs.all() if leg.account_id == account_id)


class PostedAtCursorPagination(CreatedAtCursorPagination):
    ordering = ("-posted_at", "-id")


# --- Accounts -------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="List member accounts",
        description="Member accounts in your branches (or granted to you). Search by account number, "
        "member number or member name; order by account_number, balance, opened_at, type or status.",
    ),
    post=extend_schema(
        summary="Open a member account",
        request=AccountCreateSerializer,
        responses={
            201: AccountSerializer,
            (400, PROBLEM_CONTENT_TYPE): _problem("Invalid input"),
            (409, PROBLEM_CONTENT_TYPE): _problem("Already open"),
        },
    ),
)
class AccountListCreateView(generics.ListCreateAPIView):
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    search_fields = ("account_number", "member__member_number", "member__first_name", "member__last_name")
    ordering_fields = ("account_number", "balance", "opened_at", "type", "status")
    ordering = ("account_number",)

    def get_queryset(self):
        return member_accounts_visible_to(user=self.request.user)

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return AccountCreateSerializer
        return AccountSerializer

    def create(self, request, *args, **kwargs):
        serializer = AccountCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        account = services.open_account(
            member=serializer.validated_data["member"],
            account_type=serializer.validated_data["type"],
            actor=request.user,
        )
        account = member_accounts().get(pk=account.pk)
        return Response(AccountSerializer(account).data, status=status.HTTP_201_CREATED)


@extend_schema_view(get=extend_schema(summary="Read an account", parameters=[ACCOUNT_ID]))
class AccountDetailView(generics.RetrieveAPIView):
    serializer_class = AccountSerializer

    def get_queryset(self):
        return member_accounts_visible_to(user=self.request.user)


class _AccountPostingView(APIView):
    """Deposit or withdrawal on one member account (`service`: the deposit; withdrawals set theirs).

    The hot path of the API, kept lean: the body is checked without DRF's field machinery when it
    is well formed (`plain_posting_input`), the service locks the member account and its branch's
    GL account in one read and checks scope, type and permission on the locked rows (another
    branch's account is a 404 exactly like a missing one), and the reply is built as plain JSON
    (`posting_data`) while the rows are locked, so the transaction commits soon after."""

    parser_classes = (DecimalJSONParser,)
    service: Callable[..., JournalEntry | Pending] = staticmethod(services.deposit)

    def post_posting(self, request, pk):
        data = plain_posting_input(request.data)
        if data is None:
            # Unusual input: a 404 for an account the caller cannot see comes first, then the
            # serializer names what is wrong.
            get_scoped_object_or_404(member_accounts(), request.user, pk=pk)
            serializer = AccountPostingInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
        pending = request.idempotency_record

        def record(entry):  # built while the rows are locked, written with the entry
            return pending.row(status.HTTP_201_CREATED, posting_data(entry, _account_of(entry, pk)))

        companion = CompanionRow(pending.model, record)
        try:
            entry = self.service(
                account_id=pk,
                amount=data["amount"],
                actor=request.user,
                description=data["description"],
                channel=data["channel"],
                idempotency_key=service_idempotency_key(request),
                visible_to=request.user,
                companion=companion,
            )
        except (AccountNotVisible, AccountNotFound) as exc:
            raise Http404 from exc
        if isinstance(entry, Pending):  # above the policy band: waits for approval (stored as is)
            return json_response(entry.as_data(), status=status.HTTP_202_ACCEPTED)
        pending.written = companion.written
        if pending.written:
            return json_response(pending.body, status=status.HTTP_201_CREATED)
        entry = entry_with_legs(entry)  # the key had posted before: the legs are read back
        return json_response(posting_data(entry, _account_of(entry, pk)), status=status.HTTP_201_CREATED)


class AccountDepositView(_AccountPostingView):
    permission_classes = (DefaultApiPermission, HasPerm.of("ledger.post_transaction"))

    @extend_schema(
        summary="Deposit into a member account",
        description="Debits teller cash (channel `cash`: the calling staff member's till in the account's "
        "branch; the branch's vault for a partner system) or the branch's bank account (`bank`) and "
        "credits the member. Needs `ledger.post_transaction` and an Idempotency-Key. Above the cash "
        "deposit approval band (default ₦5,000,000; channel `cash` only) nothing is posted: the reply "
        "is 202 with the approval request to follow (GET /api/v1/approvals/{id}/).",
        parameters=[ACCOUNT_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=AccountPostingInputSerializer,
        responses={201: AccountPostingSerializer, 202: LedgerPendingApprovalSerializer, **POSTING_ERRORS},
    )
    @idempotent(record_after=True)  # every write is the ledger's, keyed by the same key
    def post(self, request, pk):
        return self.post_posting(request, pk)


class AccountWithdrawView(_AccountPostingView):
    permission_classes = (
        DefaultApiPermission,
        HasPerm.of("ledger.post_transaction"),
        PartnersPostDepositsOnly,
    )
    # Above the withdrawal policy band the withdrawal waits for approval (202).
    service = staticmethod(services.withdraw)

    @extend_schema(
        summary="Withdraw from a member account",
        description="Debits the member and credits the caller's till (channel `cash`) or the bank. "
        "The available balance (balance − held − minimum) and the daily limit must allow it (else "
        "409). Needs `ledger.post_transaction` (not for partner systems) and an Idempotency-Key. Above the "
        "withdrawal approval band (default ₦500,000) nothing is posted: the amount is held and the "
        "reply is 202 with the approval request to follow (GET /api/v1/approvals/{id}/).",
        parameters=[ACCOUNT_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=AccountPostingInputSerializer,
        responses={201: AccountPostingSerializer, 202: LedgerPendingApprovalSerializer, **POSTING_ERRORS},
    )
    @idempotent(record_after=True)  # every write is the ledger's, keyed by the same key
    def post(self, request, pk):
        return self.post_posting(request, pk)


class TransferView(APIView):
    permission_classes = (
        DefaultApiPermission,
        HasPerm.of("ledger.transfer_funds"),
        PartnersPostDepositsOnly,
    )
    parser_classes = (DecimalJSONParser,)

    @extend_schema(
        summary="Transfer between member accounts",
        description="From a member account in your branches to any member account (any branch), as "
        "one journal entry. Needs `ledger.transfer_funds` and an Idempotency-Key. Above the transfer "
        "approval band (default ₦1,000,000) the amount is held and the reply is 202 with the approval "
        "request to follow.",
        parameters=[IDEMPOTENCY_KEY_PARAMETER],
        request=TransferInputSerializer,
        responses={201: TransferResultSerializer, 202: LedgerPendingApprovalSerializer, **POSTING_ERRORS},
    )
    @idempotent
    def post(self, request):
        serializer = TransferInputSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        entry = services.transfer(
            from_account_id=data["from_account"].pk,
            to_account_id=data["to_account"].pk,
            amount=data["amount"],
            actor=request.user,
            description=data["description"],
            idempotency_key=service_idempotency_key(request),
        )
        if isinstance(entry, Pending):
            return Response(entry.as_data(), status=status.HTTP_202_ACCEPTED)
        result = entry_with_legs(entry)
        # Attributes for TransferResultSerializer only (not fields of JournalEntry).
        setattr(result, "from_account", _account_of(result, data["from_account"].pk))  # noqa: B010
        setattr(result, "to_account", _account_of(result, data["to_account"].pk))  # noqa: B010
        # The request in the context keeps another branch's balance out of the reply.
        data = TransferResultSerializer(result, context={"request": request}).data
        return Response(data, status=status.HTTP_201_CREATED)


# --- Movements ------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(
        summary="An account's movements",
        description="The account's legs, newest first, cursor-paginated. Filters: date_from/date_to "
        "(value date), type (DEBIT/CREDIT), amount_min/amount_max, reconciliation_status, kind.",
        parameters=[ACCOUNT_ID],
    )
)
class AccountTransactionListView(generics.ListAPIView):
    serializer_class = TransactionSerializer
    pagination_class = CreatedAtCursorPagination
    filter_backends = (DjangoFilterBackend, filters.SearchFilter)
    filterset_class = AccountTransactionFilter
    search_fields = ("reference", "description")
    queryset = Transaction.objects.none()  # the model, for the permission check

    def list(self, request, *args, **kwargs):
        get_scoped_object_or_404(member_accounts(), request.user, pk=kwargs["pk"])  # 404 first
        return super().list(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Transaction.objects.none()
        return account_legs(account_id=self.kwargs["pk"])


@extend_schema_view(
    get=extend_schema(
        summary="Movements you can see",
        description="Every leg in your branches (and of accounts granted to you), newest first, "
        "cursor-paginated. Filters as on an account's movements plus branch and account.",
    )
)
class TransactionListView(generics.ListAPIView):
    serializer_class = TransactionSerializer
    pagination_class = CreatedAtCursorPagination
    filter_backends = (DjangoFilterBackend, filters.SearchFilter)
    filterset_class = TransactionFilter
    search_fields = ("reference", "description")
    queryset = Transaction.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Transaction.objects.none()
        return legs_visible_to(user=self.request.user)


# --- Journal entries ------------------------------------------------------------------------------


@extend_schema_view(get=extend_schema(summary="Journal entries", description="Newest first, with legs."))
class JournalEntryListView(generics.ListAPIView):
    serializer_class = JournalEntrySerializer
    pagination_class = PostedAtCursorPagination
    filter_backends = (DjangoFilterBackend, filters.SearchFilter)
    filterset_class = JournalEntryFilter
    search_fields = ("reference", "narration")
    queryset = JournalEntry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return JournalEntry.objects.none()
        return journal_entries_visible_to(user=self.request.user)


@extend_schema_view(get=extend_schema(summary="A journal entry", parameters=[ENTRY_ID]))
class JournalEntryDetailView(generics.RetrieveAPIView):
    serializer_class = JournalEntrySerializer
    queryset = JournalEntry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return JournalEntry.objects.none()
        return journal_entries_visible_to(user=self.request.user)


class JournalEntryReverseView(APIView):
    permission_classes = (DefaultApiPermission, HasPerm.of("ledger.reverse_transaction"))
    parser_classes = (DecimalJSONParser,)

    @extend_schema(
        summary="Reverse a journal entry",
        description="Posts the mirror entry (every leg on the other side), once per entry, with a "
        "reason. Needs `ledger.reverse_transaction` (ACCOUNTANT) and an Idempotency-Key. Under the "
        "reversal approval policy (default: every reversal) nothing is posted yet: the reply is 202 "
        "and a manager's approval posts the mirror entry (409 while one is already waiting).",
        parameters=[ENTRY_ID, IDEMPOTENCY_KEY_PARAMETER],
        request=ReverseInputSerializer,
        responses={201: PostedEntrySerializer, 202: LedgerPendingApprovalSerializer, **POSTING_ERRORS},
    )
    @idempotent
    def post(self, request, pk):
        entry = get_scoped_object_or_404(JournalEntry.objects.all(), request.user, pk=pk)
        serializer = ReverseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reversal = services.reverse_entry(
            entry_id=entry.pk, reason=serializer.validated_data["reason"], actor=request.user
        )
        if isinstance(reversal, Pending):
            return Response(reversal.as_data(), status=status.HTTP_202_ACCEPTED)
        return Response(PostedEntrySerializer(entry_with_legs(reversal)).data, status=status.HTTP_201_CREATED)
