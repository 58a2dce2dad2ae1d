"""The Coopdesk admin site: branding, email + password (+ TOTP) login, MFA enrolment, dashboard."""

from __future__ import annotations

import base64
import io

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import devices_for_user, match_token
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_ratelimit.decorators import ratelimit

from . import dashboard
from .audit import record_event
from .models import AuditLog


class CoopAdminLoginForm(AdminAuthenticationForm):
    """Email + password, and the 6-digit code once the person has an authenticator enrolled."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6-digit code from your authenticator app (leave empty on first login).",
    )
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "otp_required": "Enter the 6-digit code from your authenticator app.",
        "otp_invalid": "That authenticator code is not valid. Check the time on your phone and retry.",
    }

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is None or not settings.REQUIRE_STAFF_MFA:
            return cleaned
        if not any(True for _ in devices_for_user(user, confirmed=True)):
            return cleaned  # first login: the enrolment page follows
        token = (cleaned.get("otp_token") or "").strip()
        if not token:
            raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
        device = match_token(user, token)
        if device is None:
            record_event(AuditLog.Event.MFA_FAILURE, request=self.request, user=user)
            raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        # django-otp's user_logged_in receiver marks the session verified with this device.
        user.otp_device = device  # type: ignore[attr-defined]  # django-otp's attribute on the user
        return cleaned


def method_decorator_ratelimit(func):
    """Rate-limit POSTs to the login page per client IP (django-ratelimit, shared cache)."""
    limited = ratelimit(
        key="ip",
        rate=lambda group, request: settings.LOGIN_RATE_LIMIT,
        method="POST",
        block=True,
        group="admin-login",
    )

    def wrapper(self, request, extra_context=None):
        return sensitive_post_parameters()(limited(lambda r: func(self, r, extra_context)))(request)

    return wrapper


class CoopAdminSite(admin.AdminSite):
    site_header = "Coopdesk"
    site_title = "Coopdesk"
    index_title = "Dashboard"
    login_form = CoopAdminLoginForm
    index_template = "admin/coopdesk_index.html"

    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        return not (settings.REQUIRE_STAFF_MFA and not request.user.is_verified())

    @method_decorator_ratelimit
    def login(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "idle_logout": request.GET.get("idle") == "1"}
        return super().login(request, extra_context)

    def get_urls(self):
        return [
            path("mfa/enrol/", self.admin_view_mfa(self.mfa_enrol), name="mfa-enrol"),
            *super().get_urls(),
        ]

    def admin_view_mfa(self, view):
        """Logged-in (password) staff only; OTP verification is what this page establishes."""

        def wrapper(request, *args, **kwargs):
            if not (request.user.is_authenticated and request.user.is_active and request.user.is_staff):
                return redirect("admin:login")
            return view(request, *args, **kwargs)

        return never_cache(csrf_protect(wrapper))

    def mfa_enrol(self, request):

        user = request.user
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            if user.is_verified():
                return redirect("admin:index")
            # Someone holding only the password must not enrol a second device: prove the first.
            logout(request)
            return redirect("admin:login")
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
        error = ""
        if request.method == "POST":
            token = (request.POST.get("otp_token") or "").strip()
            if token.isdigit() and device.verify_token(token):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                otp_login(request, device)
                record_event(AuditLog.Event.MFA_ENROLLED, request=request, user=user)
                messages.success(request, "Your authenticator app is set up. Welcome to Coopdesk.")
                return redirect("admin:index")
            record_event(AuditLog.Event.MFA_FAILURE, request=request, user=user)
            error = "That code did not match. Scan the QR code again and enter the current code."
        context = {
            **self.each_context(request),
            "title": "Set up two-factor authentication",
            "qr_data_uri": _qr_data_uri(device.config_url),
            "secret": base64.b32encode(device.bin_key).decode(),
            "error": error,
        }
        return TemplateResponse(request, "cooperative/mfa_enrol.html", context)

    def index(self, request, extra_context=None):
        user = request.user
        extra_context = {
            **(extra_context or {}),
            "my_branches": list(user.branches.order_by("code")),
            "widgets": dashboard.widgets_for(request),
            "my_roles": list(user.groups.order_by("name").values_list("name", flat=True)),
        }
        return super().index(request, extra_context)


def _qr_data_uri(text: str) -> str:
    import qrcode  # noqa: PLC0415 - start-up cost: only MFA enrolment draws a QR code
    import qrcode.image.svg  # noqa: PLC0415 - start-up cost, as above

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
