"""The billing profile form: what the billing admin may change about invoices."""

from __future__ import annotations

import re
from dataclasses import asdict

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from checkout.forms import VatNumberForm
from subscriptions.billing_profile import (
    MAX_INVOICE_RECIPIENTS,
    BillingAddress,
    invoice_recipients_clean,
)
from subscriptions.models import Account

ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


def _text(name: str, *, label, autocomplete: str, required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=required,
        max_length=Account._meta.get_field(name).max_length,
        widget=forms.TextInput(attrs={"autocomplete": autocomplete}),
    )


class BillingProfileForm(forms.Form):
    legal_name = _text(
        "legal_name", label=_("Company name (as on invoices)"), autocomplete="organization"
    )
    # An invoice needs the buyer's address (§ 14 UStG): street, postal code and city.
    address_line1 = _text(
        "address_line1", label=_("Street and number"), autocomplete="address-line1", required=True
    )
    address_line2 = _text(
        "address_line2", label=_("Address line 2 (optional)"), autocomplete="address-line2"
    )
    postal_code = _text(
        "postal_code", label=_("Postal code"), autocomplete="postal-code", required=True
    )
    city = _text("city", label=_("City"), autocomplete="address-level2", required=True)
    vat_number = forms.CharField(
        label=_("VAT number"),
        required=False,
        max_length=40,
        help_text=_("With or without the country prefix. Leave empty to remove it."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    invoice_recipients = forms.CharField(
        label=_("Also send invoices to"),
        required=False,
        help_text=_("Up to 5 email addresses, one per line. Billing admins always receive them."),
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
    )

    def __init__(self, *args, account: Account, **kwargs):
        self.account = account
        kwargs.setdefault(
            "initial",
            {
                **asdict(BillingAddress.of(account)),
                "vat_number": account.vat_number,
                "invoice_recipients": "\n".join(account.invoice_recipients),
            },
        )
        super().__init__(*args, **kwargs)

    def clean_vat_number(self) -> str:
        """Empty removes it; otherwise the very check the checkout's VAT form makes."""
        number = self.cleaned_data["vat_number"].strip()
        if not number:
            return ""
        checked = VatNumberForm({"vat_number": number}, country=self.account.country)
        if not checked.is_valid():
            raise ValidationError(checked.errors["vat_number"])
        return checked.cleaned_data["vat_number"]

    def clean_invoice_recipients(self) -> list[str]:
        """The service's own check (``invoice_recipients_clean``), said in the reader's words."""
        typed = ADDRESS_SEPARATORS.split(self.cleaned_data["invoice_recipients"])
        try:
            return invoice_recipients_clean(typed)
        except ValidationError as error:
            [problem] = error.error_dict["invoice_recipients"]
            if problem.code == "too_many":
                raise ValidationError(
                    ngettext(
                        "Enter at most %(count)d address.",
                        "Enter at most %(count)d addresses.",
                        MAX_INVOICE_RECIPIENTS,
                    )
                    % {"count": MAX_INVOICE_RECIPIENTS},
                    code="too_many",
                ) from None
            raise ValidationError(
                _("%(address)s is not an email address."),
                code="invalid",
                params=problem.params,
            ) from None

    def address(self) -> BillingAddress:
        return BillingAddress(
            **{name: self.cleaned_data[name] for name in BillingAddress.__dataclass_fields__}
        )
