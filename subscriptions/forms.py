from __future__ import annotations

import logging
import re
from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template import loader
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from djmoney.forms import MoneyField as MoneyFormField

from subscriptions.messages import seat_error_message
from subscriptions.models import Subscription
from subscriptions.proration import QuoteError, validate_new_seats
from subscriptions.selectors import is_purchase

logger = logging.getLogger(__name__)

WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits only: "٣" is not a count here
# An amount is a whole number with an optional decimal part, in the same ASCII digits.
DECIMAL_NUMBER = re.compile(rf"{WHOLE_NUMBER.pattern}(?:\.[0-9]{{1,30}})?")


def refuse_non_ascii_number(field: forms.Field, value, pattern: re.Pattern) -> None:
    """Refuse ``value`` as ``field``'s "invalid" input unless it is ``pattern`` in ASCII digits.

    Python's ``int()`` and ``Decimal()`` also read "٣" (Arabic-Indic three), "３"
    (full-width) and, for decimals, "1e3": a staff member would not see what was
    stored from such input, so it is refused as not a number, as the portal's own
    forms do.
    """
    if not isinstance(value, str) or value.strip() in field.empty_values:
        return  # a value from code (a Decimal, an int) or nothing typed: the field decides
    if not pattern.fullmatch(value.strip()):
        raise forms.ValidationError(field.error_messages["invalid"], code="invalid")


class WholeNumberField(forms.IntegerField):
    """A count (licenses, days): ASCII digits only."""

    def to_python(self, value):
        refuse_non_ascii_number(self, value, WHOLE_NUMBER)
        return super().to_python(value)


class AmountField(forms.DecimalField):
    """A decimal number (an amount, a rate): ASCII digits, an optional fraction, no exponent."""

    def to_python(self, value):
        refuse_non_ascii_number(self, value, DECIMAL_NUMBER)
        return super().to_python(value)


class MoneyAmountField(MoneyFormField):
    """djmoney's money field (amount and currency) whose amount is read as ``AmountField``.

    djmoney builds its amount part as a plain ``DecimalField`` with no option to
    choose another class, so the typed amount is checked here, before the parts are.
    """

    def clean(self, value):
        if isinstance(value, (list, tuple)) and value:
            refuse_non_ascii_number(self.fields[0], value[0], DECIMAL_NUMBER)
        return super().clean(value)


class SeatsForm(forms.Form):
    """The number of licenses a billing admin wants, checked against the seat rules."""

    seats = forms.CharField(
        label=_("Number of licenses"),
        max_length=40,
        error_messages={"required": _("Enter the number of licenses.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]*"}
        ),
    )

    def __init__(self, *args, subscription: Subscription, assigned_seats: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.subscription = subscription
        self.assigned_seats = assigned_seats

    def clean_seats(self) -> int:
        raw = self.cleaned_data["seats"].strip()
        if not WHOLE_NUMBER.fullmatch(raw):
            raise forms.ValidationError(
                _("Enter the number of licenses as a whole number, such as 7."),
                code="not_whole_number",
            )
        seats = int(raw)
        plan = self.subscription.plan
        try:
            validate_new_seats(
                current_seats=0 if is_purchase(self.subscription) else self.subscription.seats,
                new_seats=seats,
                assigned_seats=self.assigned_seats,
                min_seats=plan.min_seats,
                max_seats=plan.max_seats,
            )
        except QuoteError as error:
            raise forms.ValidationError(seat_error_message(error), code=error.code) from None
        return seats


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form, whose ``save`` only queues the work (``send_password_reset``).

    Django's own looks the address up and sends the email inside the request:
    an address with an account took longer to answer (the SMTP round trip),
    which told anyone timing it that the account exists.
    """

    def save(self, *, request=None, use_https=False, **_unused) -> None:
        from subscriptions.tasks import send_password_reset

        email = self.cleaned_data["email"]
        domain = request.get_host() if request is not None else ""
        language = get_language() or settings.LANGUAGE_CODE
        try:
            send_password_reset.delay(
                email=email, domain=domain, use_https=use_https, language=language
            )
        except Exception:
            # The same answer whatever happened (a broker that is down included).
            logger.exception("Could not queue a password reset email")


class PasswordResetEmailForm(PasswordResetForm):
    """Django's reset form, as the worker uses it: one email per address per interval.

    Each user Django would email (active, with a usable password, the address
    the same under Unicode case folding) is claimed first, on their own row:
    ``password_reset_sent_at`` set to now if the last email is older than
    ``PASSWORD_RESET_EMAIL_INTERVAL``. Only the users claimed get the email, so
    two workers given the same request never both send it, and a look-alike
    address that PostgreSQL matches but Django does not email claims nothing.
    The task that claimed may claim again (``task_id``): its message delivered
    again after its worker was lost mid-send still sends the email. An email
    that could not be sent raises (Django's own form only logs it) and its
    claim is given up (``release``), so asking again sends it at once.
    """

    def __init__(self, *args, at: datetime, task_id: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.at = at
        self.task_id = task_id or ""
        self.unsent: list[int] = []  # claimed, email not sent yet

    def get_users(self, email: str):
        since = self.at - settings.PASSWORD_RESET_EMAIL_INTERVAL
        claimable = Q(password_reset_sent_at__isnull=True) | Q(password_reset_sent_at__lte=since)
        if self.task_id:
            claimable |= Q(password_reset_task=self.task_id)
        for user in super().get_users(email):
            claimed = (
                type(user)
                ._default_manager.filter(claimable, pk=user.pk)
                .update(password_reset_sent_at=self.at, password_reset_task=self.task_id)
            )
            if claimed:
                self.unsent.append(user.pk)
                yield user

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        """Django's message, sent without swallowing a failure (Django 5 logs it and
        returns, which would count an email nobody got)."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        message = EmailMultiAlternatives(subject, body, from_email, [to_email])
        if html_email_template_name is not None:
            html = loader.render_to_string(html_email_template_name, context)
            message.attach_alternative(html, "text/html")
        message.send()
        self.unsent.remove(context["user"].pk)

    def release(self) -> None:
        """Give up the claims whose email was not sent, so asking again sends it at once."""
        get_user_model()._default_manager.filter(
            pk__in=self.unsent, password_reset_sent_at=self.at
        ).update(password_reset_sent_at=None, password_reset_task="")
