"""Support edits an account's billing profile through the portal's own service.

The profile's fields are read-only on the account's change page: a change goes
through this action, with a reason, so it writes the same activity entries as the
Billing Center (channel ADMIN). The country stays on the change page: support owns it.
"""

from __future__ import annotations

import re
from dataclasses import asdict

from django import forms

from subscriptions.activity import Channel
from subscriptions.admin_actions import ReasonForm, support_action
from subscriptions.billing_profile import BillingAddress, account_billing_profile_update
from subscriptions.models import Account

PROFILE_FIELDS = [*BillingAddress.__dataclass_fields__, "invoice_recipients"]


def _text(name: str) -> forms.CharField:
    field = Account._meta.get_field(name)
    return forms.CharField(
        label=field.verbose_name.capitalize(), required=False, max_length=field.max_length
    )


class BillingProfileForm(ReasonForm):
    legal_name = _text("legal_name")
    address_line1 = _text("address_line1")
    address_line2 = _text("address_line2")
    postal_code = _text("postal_code")
    city = _text("city")
    vat_number = forms.CharField(
        label="VAT number", required=False, max_length=40, help_text="Empty removes it."
    )
    invoice_recipients = forms.CharField(
        label="Extra invoice recipients",
        required=False,
        help_text="Email addresses, one per line, at most 5.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    def __init__(self, *args, obj=None, **kwargs):
        if obj is not None:
            kwargs.setdefault(
                "initial",
                {
                    **asdict(BillingAddress.of(obj)),
                    "vat_number": obj.vat_number,
                    "invoice_recipients": "\n".join(obj.invoice_recipients),
                },
            )
        super().__init__(*args, obj=obj, **kwargs)
        # The reason last: it explains the change above it.
        self.order_fields([name for name in self.fields if name != "reason"] + ["reason"])


def _apply_profile(account, form, staff):
    data = form.cleaned_data
    account_billing_profile_update(
        account=account,
        address=BillingAddress(
            **{name: data[name] for name in BillingAddress.__dataclass_fields__}
        ),
        vat_number=data["vat_number"],
        invoice_recipients=re.split(r"[\s,;]+", data["invoice_recipients"]),
        actor=staff,
        channel=Channel.ADMIN,
        reason=data["reason"],
    )
    return f"The billing profile of {account} is saved."


edit_billing_profile = support_action(
    description="Edit the billing profile (address, VAT number, invoice recipients)",
    form_class=BillingProfileForm,
    apply=_apply_profile,
)
