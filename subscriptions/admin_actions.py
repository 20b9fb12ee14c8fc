"""Support actions in the Django admin: a form with a reason, a preview where money moves,
then the same service the portal uses. Each writes an audit entry (in its service)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

SUPPORT_PERMISSION = "subscriptions.support_actions"


class SupportPermissionMixin:
    """Actions marked ``allowed_permissions=("support",)`` need the support permission."""

    def has_support_permission(self, request) -> bool:
        return request.user.has_perm(SUPPORT_PERMISSION)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason (kept in the audit trail)",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def __init__(self, *args, obj=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.obj = obj

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError("A reason is required.")
        return reason

    def preview(self):
        """What the action will do, shown before it is confirmed (None: no preview step)."""
        return None


def support_action(
    *,
    description: str,
    form_class: type[ReasonForm],
    apply: Callable,
):
    """Turn ``apply(obj, form, user) -> message`` into a one-object admin action with a form."""

    @admin.action(description=description, permissions=["support"])
    def action(modeladmin, request, queryset):
        if queryset.count() != 1:
            modeladmin.message_user(request, "Choose exactly one row.", messages.WARNING)
            return None
        obj = queryset.get()
        submitted = "confirm" in request.POST or "preview" in request.POST
        form = form_class(request.POST if submitted else None, obj=obj)
        preview = None
        if form.is_bound and form.is_valid():
            try:
                if "confirm" in request.POST:
                    message = apply(obj, form, request.user)
                    modeladmin.message_user(request, message, messages.SUCCESS)
                    return None
                preview = form.preview()
            except (ValidationError, ValueError) as error:
                form.add_error(None, getattr(error, "messages", [str(error)])[0])
            except Exception as error:  # a checkout refusal: say it, change nothing
                from checkout.services import CheckoutError

                if not isinstance(error, CheckoutError):
                    raise
                form.add_error(None, str(error) or error.code)
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "obj": obj,
            "form": form,
            "preview": preview,
            "action_name": request.POST.get("action", ""),
            "opts": modeladmin.model._meta,
            "needs_preview": form_class.preview is not ReasonForm.preview,
        }
        return TemplateResponse(request, "admin/support_action.html", context)

    action.__name__ = f"support_{form_class.__name__.lower()}"
    return action


def sign_preview(payload: dict) -> str:
    return signing.dumps(payload, salt="admin.preview")


def read_preview(token: str, max_age: int) -> dict:
    return signing.loads(token, salt="admin.preview", max_age=max_age)
