"""Support actions in the Django admin: a form with a reason, a preview where money moves,
then the same service the portal uses. Each writes an audit entry (in its service)."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.template.response import TemplateResponse
from djmoney.models.fields import MoneyField

from subscriptions.forms import AmountField, MoneyAmountField, WholeNumberField

SUPPORT_PERMISSION = "subscriptions.support_actions"

SELECTION_NOT_ROWS = "The selection is not a list of rows from this page; nothing was changed."
SELECTION_GONE = (
    "{missing} of the {selected} selected rows no longer exist or are not in this list; "
    "nothing was changed. Choose the rows again."
)

# The form field of each kind of number column in an admin form. Django's admin looks a
# column's class up along its MRO: MoneyField before DecimalField (it is one), and
# BigIntegerField on its own because Django's defaults already name it.
NUMBER_FIELDS = {
    MoneyField: {"form_class": MoneyAmountField},
    models.DecimalField: {"form_class": AmountField},
    models.IntegerField: {"form_class": WholeNumberField},
    models.BigIntegerField: {"form_class": WholeNumberField},
}


class PortalModelAdmin(admin.ModelAdmin):
    """The base of every model admin in the portal: it checks what staff type and post.

    - Number fields read ASCII digits only, as the portal's own forms do. A subclass
      that sets its own ``formfield_overrides`` extends ``NUMBER_FIELDS``, not replaces it.
    - An action runs only on a selection of real ids of rows in the list: anything
      else (``abc``, empty, an id out of range, a row that is gone) is refused with
      a message, where Django's own ``pk__in`` filter would raise (a 500) or
      silently act on fewer rows than were ticked.
    """

    formfield_overrides = NUMBER_FIELDS

    def response_action(self, request, queryset):
        problem = selection_problem(queryset, request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))
        if problem:
            self.message_user(request, problem, messages.ERROR)
            return None
        return super().response_action(request, queryset)


def selection_problem(queryset, selected: list[str]) -> str | None:
    """Why ``selected`` (the ticked ids as posted) is not a selection of ``queryset``'s
    rows, or None."""
    pk_field = queryset.model._meta.pk
    ids = set()
    for value in selected:
        try:
            if not (isinstance(value, str) and value.isascii() and value.strip() == value):
                raise ValidationError("not an id")
            row_id = pk_field.to_python(value)
            if row_id is None:
                raise ValidationError("empty")
            pk_field.run_validators(row_id)  # e.g. beyond a bigint
        except ValidationError:
            return SELECTION_NOT_ROWS
        ids.add(row_id)
    if not ids:
        return SELECTION_NOT_ROWS
    found = queryset.filter(pk__in=ids).count()
    if found != len(ids):
        return SELECTION_GONE.format(missing=len(ids) - found, selected=len(ids))
    return None


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
