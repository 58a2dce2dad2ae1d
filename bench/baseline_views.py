"""The benchmark's yardstick: a bare DRF endpoint doing one SELECT … FOR UPDATE + one INSERT.

Mounted only when COOP_BENCH_BASELINE=true (never in production). It goes through the same
middleware, JWT authentication and DRF machinery as the real deposit endpoint, so the ratio of the
two isolates the cost of Coopdesk's posting rules.
"""

from django.db import connection, transaction
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS bench_baseline_row (
  id bigserial PRIMARY KEY, account_id uuid NOT NULL, amount numeric(18, 2) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)
"""


class BaselineInput(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)


class BaselinePostingView(APIView):
    permission_classes = (IsAuthenticated,)
    schema = None  # not part of the public API

    def post(self, request, account_id):
        data = BaselineInput(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT id FROM ledger_account WHERE id = %s FOR UPDATE", [str(account_id)])
            cursor.execute(
                "INSERT INTO bench_baseline_row (account_id, amount) VALUES (%s, %s)",
                [str(account_id), data.validated_data["amount"]],
            )
        return Response({"status": "ok", "amount": str(data.validated_data["amount"])}, status=201)
