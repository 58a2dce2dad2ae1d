"""Shapes of the members API. Serializers check shape; `members.services` decides."""

from __future__ import annotations

from rest_framework import serializers

from cooperative.models import Branch

from ..models import Member

_ROUTE_HINTS = {
    "status": " Use POST /api/v1/members/{id}/status/ or /exit/.",
    "kyc_status": " Use POST /api/v1/members/{id}/kyc/.",
}
IDENTITY_HELP = "11 digits. Write-only: responses show it masked (*******1234)."


class MemberOutputSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(read_only=True)
    branch_code = serializers.CharField(source="branch.code", read_only=True)
    bvn_masked = serializers.CharField(read_only=True, help_text="BVN with all but the last 4 digits hidden.")
    nin_masked = serializers.CharField(read_only=True, help_text="NIN with all but the last 4 digits hidden.")

    class Meta:
        model = Member
        fields = (
            "id",
            "member_number",
            "first_name",
            "last_name",
            "full_name",
            "email",
            "phone",
            "date_of_birth",
            "gender",
            "occupation",
            "employer",
            "address",
            "city",
            "state",
            "country",
            "branch",
            "branch_code",
            "join_date",
            "status",
            "status_reason",
            "status_changed_at",
            "bvn_masked",
            "nin_masked",
            "next_of_kin_name",
            "next_of_kin_relationship",
            "next_of_kin_phone",
            "kyc_status",
            "kyc_reviewed_by",
            "kyc_reviewed_at",
            "kyc_rejection_reason",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class _MemberInputFields(serializers.Serializer):
    """Unknown keys are refused rather than ignored, so `{"status": "EXITED"}` cannot look accepted."""

    def validate(self, attrs):
        unknown = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: "This field cannot be set here." + _ROUTE_HINTS.get(name, "") for name in unknown}
            )
        return attrs

    first_name = serializers.CharField(max_length=80)
    last_name = serializers.CharField(max_length=80)
    phone = serializers.CharField(max_length=32, help_text="Any format: 0803 123 4567, +2348031234567.")
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    date_of_birth = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Member.Gender.choices, required=False)
    occupation = serializers.CharField(max_length=120, required=False, allow_blank=True)
    employer = serializers.CharField(max_length=120, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    city = serializers.CharField(max_length=80, required=False, allow_blank=True)
    state = serializers.CharField(max_length=80, required=False, allow_blank=True)
    country = serializers.CharField(max_length=80, required=False, allow_blank=True)
    bvn = serializers.CharField(
        max_length=20, required=False, allow_blank=True, write_only=True, help_text=IDENTITY_HELP
    )
    nin = serializers.CharField(
        max_length=20, required=False, allow_blank=True, write_only=True, help_text=IDENTITY_HELP
    )
    next_of_kin_name = serializers.CharField(max_length=160, required=False, allow_blank=True)
    next_of_kin_relationship = serializers.CharField(max_length=60, required=False, allow_blank=True)
    next_of_kin_phone = serializers.CharField(max_length=32, required=False, allow_blank=True)


class MemberCreateSerializer(_MemberInputFields):
    branch = serializers.PrimaryKeyRelatedField(queryset=Branch.objects.all())
    join_date = serializers.DateField(required=False)


class MemberUpdateSerializer(_MemberInputFields):
    """PATCH: every field optional; branch, status and KYC have their own endpoints and rules."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class KycDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=[Member.KycStatus.VERIFIED, Member.KycStatus.REJECTED])
    reason = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Required when rejecting."
    )


class StatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[Member.Status.ACTIVE, Member.Status.DORMANT, Member.Status.SUSPENDED]
    )
    reason = serializers.CharField(max_length=255)
