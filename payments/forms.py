"""The sandbox gateway's card form."""

from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.gateways import CardDetails
from subscriptions import clock


def luhn_valid(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CardForm(forms.Form):
    """The sandbox gateway's card form. The number and CVC are never stored."""

    card_number = forms.CharField(
        label=_("Card number"),
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )
    expiry = forms.CharField(
        label=_("Expiry (MM/YY)"),
        max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "placeholder": "MM/YY"}),
    )
    cvc = forms.CharField(
        label=_("Security code (CVC)"),
        max_length=4,
        widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "cc-csc"}),
    )

    def clean_card_number(self) -> str:
        number = re.sub(r"[ -]", "", self.cleaned_data["card_number"])
        if not re.fullmatch(r"[0-9]{12,19}", number) or not luhn_valid(number):
            raise forms.ValidationError(_("Enter a valid card number."), code="invalid")
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(
            r"\s*([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})\s*", self.cleaned_data["expiry"]
        )
        if not match or not 1 <= int(match.group(1)) <= 12:
            raise forms.ValidationError(_("Enter the expiry date as MM/YY."), code="invalid")
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        today = clock.now()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError(_("This card has expired."), code="expired")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not re.fullmatch(r"[0-9]{3,4}", cvc):
            raise forms.ValidationError(_("Enter the 3 or 4 digit security code."), code="invalid")
        return cvc

    def forget_secrets(self) -> None:
        """After an error the page shows the form again, but never the card number or CVC."""
        self.data = self.data.copy()
        for name in ("card_number", "cvc"):
            self.data[name] = ""

    def card(self) -> CardDetails:
        month, year = self.cleaned_data["expiry"]
        return CardDetails(
            number=self.cleaned_data["card_number"],
            exp_month=month,
            exp_year=year,
            cvc=self.cleaned_data["cvc"],
        )
