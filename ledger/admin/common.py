"""What the ledger's admin pages share: amounts as text, the approval-request link and message, the
reason page of list actions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from ..services import Pending


def _decide_link(approval_request) -> str:
    return reverse("admin:approvals_approvalrequest_decide", args=[approval_request.pk])


def _sent_for_approval(request, pending: Pending, what: str) -> None:
    """The admin's answer when an action waits for approval: a message linking the request."""
    approval = pending.approval_request
    messages.info(
        request,
        format_html(
            '{} sent for approval ({} needed, level {}): <a href="{}">approval request</a>.',
            what,
            " or ".join(approval.approver_roles) or "an approver",
            approval.level_label,
            _decide_link(approval),
        ),
    )


def _reason_page(request, model_admin, queryset, *, action: str, title: str, button: str, form, rows):
    """Intermediate page of an admin action that needs a reason (and is its confirmation)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": model_admin.model._meta,
        "queryset": queryset,
        "rows": rows,
        "form": form,
        "action": action,
        "button": button,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
    }
    return TemplateResponse(request, "admin/ledger/reason_action.html", context)
