"""Shapes of the approvals API. Money is a string; the service decides everything else."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import Approval, ApprovalRequest
from ..selectors import can_decide

# RFC 9457 problem details, described inline (approvals imports no domain app's serializers).
PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details (Content-Type application/problem+json).",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string", "nullable": True}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail", "instance"],
}


class ApprovalDecisionSerializer(serializers.ModelSerializer):
    approver_name = serializers.SerializerMethodField()

    class Meta:
        model = Approval
        fields = (
            "id",
            "level",
            "approver",
            "approver_name",
            "decision",
            "comment",
            "decided_at",
            "via_escalation",
        )
        read_only_fields = fields

    def get_approver_name(self, obj: Approval) -> str:
        return str(obj.approver)


class ApprovalRequestSerializer(serializers.ModelSerializer):
    action_label = serializers.CharField(read_only=True)
    branch_code = serializers.CharField(source="branch.code", read_only=True, default=None, allow_null=True)
    requested_by_name = serializers.SerializerMethodField()
    subject_type = serializers.SerializerMethodField()
    level_count = serializers.IntegerField(read_only=True)
    can_decide = serializers.SerializerMethodField()
    decisions = ApprovalDecisionSerializer(source="approvals", many=True, read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = (
            "id",
            "action_type",
            "action_label",
            "title",
            "member_display",
            "amount",
            "product_ref",
            "branch",
            "branch_code",
            "subject_type",
            "object_id",
            "requested_by",
            "requested_by_name",
            "reason",
            "status",
            "approval_level",
            "level_count",
            "required_approvers",
            "approver_roles",
            "levels",
            "metadata",
            "created_at",
            "escalated_at",
            "completed_at",
            "close_reason",
            "transaction",
            "can_decide",
            "decisions",
        )
        read_only_fields = fields

    def get_requested_by_name(self, obj: ApprovalRequest) -> str:
        return str(obj.requested_by)

    def get_subject_type(self, obj: ApprovalRequest) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_can_decide(self, obj: ApprovalRequest) -> bool:
        request = self.context.get("request")
        return bool(request is not None and can_decide(obj, request.user))


class DecideInputSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Approval.Decision.choices)
    comment = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Required to reject."
    )


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
