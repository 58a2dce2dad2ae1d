"""The manager's screens: the approval requests (read-only list, the decision page) and the
policies (amount bands with their levels inline). Every decision goes through the service."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from simple_history.admin import SimpleHistoryAdmin

from cooperative.admin_scoping import ScopedHistoryAdmin
from cooperative.audit import record_event
from cooperative.exceptions import DomainError
from cooperative.models import AuditLog

from . import registry, selectors, services
from .formatting import naira
from .forms import (
    ROLES_HELP,
    ApprovalLevelForm,
    ApprovalLevelFormSet,
    ApprovalPolicyForm,
    BandListForm,
    BandListFormSet,
)
from .models import ApprovalLevel, ApprovalPolicy, ApprovalRequest
from .notices import mark_notices_read


class WaitingForMeFilter(admin.SimpleListFilter):
    title = "waiting for me"
    parameter_name = "mine"

    def lookups(self, request, model_admin):
        return [("1", "Yes: I may decide now")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(pk__in=selectors.requests_awaiting(request.user).values("pk"))
        return queryset


class ActionTypeFilter(admin.SimpleListFilter):
    title = "type"
    parameter_name = "action_type"

    def lookups(self, request, model_admin):
        return registry.action_choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action_type=self.value())
        return queryset


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ScopedHistoryAdmin):
    list_display = (
        "title",
        "type_label",
        "member_display",
        "amount_naira",
        "branch_code",
        "requested_by",
        "status",
        "level",
        "created_at",
    )
    list_display_links = ("title",)
    list_filter = (WaitingForMeFilter, "status", ActionTypeFilter, "branch")
    list_select_related = ("branch", "requested_by")
    search_fields = ("title", "member_display")
    search_help_text = "Search by title or member (name or number)."
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return selectors.requests_visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="type", ordering="action_type")
    def type_label(self, obj):
        return obj.action_label

    @admin.display(description="amount", ordering="amount")
    def amount_naira(self, obj):
        return naira(obj.amount)

    @admin.display(description="branch", ordering="branch__code")
    def branch_code(self, obj):
        return obj.branch.code if obj.branch_id else "—"

    @admin.display(description="level")
    def level(self, obj):
        return obj.level_label if obj.is_pending else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The decision page is the request's page (it shows everything, read-only).
        self.get_object(request, object_id)  # 404 for missing and out-of-scope ids
        return redirect("admin:approvals_approvalrequest_decide", object_id)

    # --- URLs ---

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("notices/read/", wrap(self.notices_read_view), name="approvals_notices_read"),
            path("<path:object_id>/decide/", wrap(self.decide_view), name="approvals_approvalrequest_decide"),
            path("<path:object_id>/cancel/", wrap(self.cancel_view), name="approvals_approvalrequest_cancel"),
            *super().get_urls(),
        ]

    def _request_or_404(self, request, object_id) -> ApprovalRequest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self.get_object(request, object_id)  # 404 for missing, malformed and out-of-scope ids

    def decide_view(self, request, object_id):
        approval_request = self._request_or_404(request, object_id)
        if request.method == "POST":
            return self._decide(request, approval_request)
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET", "POST"])
        return self._page(request, approval_request)

    def _decide(self, request, approval_request: ApprovalRequest):
        decision = request.POST.get("decision", "")
        comment = request.POST.get("comment", "")
        try:
            done = services.decide_approval(
                request_id=approval_request.pk, actor=request.user, decision=decision, comment=comment
            )
        except DomainError as exc:
            if exc.status == 403:
                record_event(
                    AuditLog.Event.PERMISSION_DENIED,
                    request=request,
                    detail={"approval_request": str(approval_request.pk), "reason": exc.message},
                )
            approval_request.refresh_from_db()
            return self._page(
                request, approval_request, error=exc.message, comment=comment, status=exc.status
            )
        outcome = {
            ApprovalRequest.Status.APPROVED: "Approved: {title}. The action has been carried out.",
            ApprovalRequest.Status.REJECTED: "Rejected: {title}. The requester has been told.",
        }.get(done.status, "Your approval of {title} is recorded; it now waits for level {level}.")
        messages.success(request, outcome.format(title=done.title, level=done.level_label))
        return redirect("admin:approvals_approvalrequest_decide", approval_request.pk)

    def cancel_view(self, request, object_id):
        approval_request = self._request_or_404(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            services.cancel_approval_request(
                request_id=approval_request.pk, actor=request.user, reason=request.POST.get("reason", "")
            )
        except DomainError as exc:
            approval_request.refresh_from_db()
            return self._page(request, approval_request, error=exc.message, status=exc.status)
        messages.success(request, f"Cancelled: {approval_request.title}. Nobody will be asked to decide it.")
        return redirect("admin:approvals_approvalrequest_decide", approval_request.pk)

    def notices_read_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        ids = None if request.POST.get("all") else request.POST.getlist("notice")
        count = mark_notices_read(user=request.user, notice_ids=ids)
        messages.info(request, f"{count} notice{'s' if count != 1 else ''} marked read.")
        return redirect("admin:index")

    def _page(self, request, approval_request, *, error: str = "", comment: str = "", status: int = 200):
        user = request.user
        blocker = selectors.decision_blocker(approval_request, user)
        approvals = list(approval_request.approvals.select_related("approver").order_by("decided_at"))
        levels = []
        for level in approval_request.levels:
            number = level["order"] if "order" in level else len(levels) + 1
            index = len(levels) + 1
            done = [a for a in approvals if a.level == index]
            if approval_request.is_pending:
                state = (
                    "current"
                    if index == approval_request.approval_level
                    else ("done" if index < approval_request.approval_level else "waiting")
                )
            else:
                state = "done" if done else "not reached"
            levels.append(
                {
                    "number": index,
                    "order": number,
                    "who": " or ".join(level["roles"]) or f"anyone with {level.get('permission')}",
                    "required": level["required"],
                    "approvals": done,
                    "state": state,
                }
            )
        action = registry.find_action(approval_request.action_type)
        summary = action.summary(approval_request, user) if action and action.summary else None
        summary_html = ""
        if summary:
            # The hook's keys are the template's context (and `summary` is the whole dict).
            summary_html = render_to_string(
                summary["template"],
                {**summary, "summary": summary, "approval_request": approval_request},
                request=request,
            )
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{approval_request.action_label}: {approval_request.title}",
            "original": approval_request,
            "req": approval_request,
            "amount": naira(approval_request.amount),
            "age": timesince(approval_request.created_at, now).split(",")[0],
            "levels": levels,
            "approvals": approvals,
            "summary": summary,
            "summary_html": summary_html,
            "metadata": {k: v for k, v in approval_request.metadata.items() if not str(k).startswith("_")},
            "can_decide": blocker is None,
            "blocker": blocker[1] if blocker else "",
            "can_cancel": approval_request.is_pending and approval_request.requested_by_id == user.pk,
            "error": error,
            "comment": comment,
            "decide_url": reverse("admin:approvals_approvalrequest_decide", args=[approval_request.pk]),
            "cancel_url": reverse("admin:approvals_approvalrequest_cancel", args=[approval_request.pk]),
            "history_url": reverse("admin:approvals_approvalrequest_history", args=[approval_request.pk]),
            "subject_url": _admin_url_of(approval_request),
        }
        return TemplateResponse(
            request, "admin/approvals/approvalrequest/decide.html", context, status=status
        )


def _admin_url_of(approval_request: ApprovalRequest) -> str:
    content_type = approval_request.content_type
    try:
        return reverse(
            f"admin:{content_type.app_label}_{content_type.model}_change", args=[approval_request.object_id]
        )
    except Exception:
        return ""


class ApprovalLevelInline(admin.TabularInline):
    model = ApprovalLevel
    form = ApprovalLevelForm
    formset = ApprovalLevelFormSet
    extra = 0
    min_num = 1
    validate_min = True
    ordering = ("order",)


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(SimpleHistoryAdmin):
    form = ApprovalPolicyForm
    inlines = (ApprovalLevelInline,)
    list_display = (
        "action_label_display",
        "branch_display",
        "product_display",
        "min_amount",
        "max_amount",
        "active",
        "levels_display",
    )
    list_display_links = ("action_label_display",)
    list_editable = ("min_amount", "max_amount", "active")
    list_filter = (ActionTypeFilter, "active", "branch")
    list_select_related = ("branch",)
    ordering = ("action_type", "branch__code", "product_ref", "min_amount")
    fieldsets = (
        (
            "Which requests",
            {
                "fields": ("action_type", "branch", "product_ref", "min_amount", "max_amount", "active"),
                "description": "A band applies when the amount is above “above” and at most “up to”. "
                "Within one action type + branch + product, bands must follow each other without gaps "
                "or overlaps, and the highest has no upper limit. Amounts at or below the lowest band "
                "need no approval.",
            },
        ),
        (
            "Deadlines",
            {
                "fields": ("remind_after_hours", "timeout_after_hours", "on_timeout", "escalation_roles"),
                "description": "Roles: " + ROLES_HELP,
            },
        ),
    )

    def has_delete_permission(self, request, obj=None):
        return False  # switch a band off (Active) instead: requests keep pointing at their policy

    def get_changelist_form(self, request, **kwargs):
        return BandListForm

    def get_changelist_formset(self, request, **kwargs):
        kwargs["formset"] = BandListFormSet
        return super().get_changelist_formset(request, **kwargs)

    @admin.display(description="action type", ordering="action_type")
    def action_label_display(self, obj):
        return obj.action_label

    @admin.display(description="branch", ordering="branch__code")
    def branch_display(self, obj):
        return obj.branch.code if obj.branch_id else "all branches"

    @admin.display(description="product", ordering="product_ref")
    def product_display(self, obj):
        return obj.product_ref or "all products"

    @admin.display(description="levels")
    def levels_display(self, obj):
        return " → ".join(f"{lvl.required_approvals} × {' or '.join(lvl.roles)}" for lvl in obj.levels.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("levels")
