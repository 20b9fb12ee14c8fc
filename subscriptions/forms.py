from __future__ import annotations

import logging
import re

from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from subscriptions.messages import seat_error_message
from subscriptions.models import Subscription
from subscriptions.proration import QuoteError, validate_new_seats
from subscriptions.selectors import is_purchase

logger = logging.getLogger(__name__)

WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,30}")  # ASCII digits only: "٣" is not a count here


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
