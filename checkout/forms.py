from __future__ import annotations

from django import forms
from django.core import signing
from django.utils.translation import gettext_lazy as _

from checkout.services import REVIEW_VALID_FOR
from subscriptions.vat import InvalidVatNumber, normalize_vat_number

REVIEW_SALT = "checkout.review"
REVIEW_VALID_SECONDS = int(REVIEW_VALID_FOR.total_seconds())


def review_token(*, checkout_token: str, quote, account_id: int, user_id: int) -> str:
    """Sign what the review showed so Place order can tell it was not altered.

    The amount due travels signed too: Place order uses it to open the payment
    and then proves it by re-quoting under lock (the fingerprint covers it).
    The account and the admin it was shown to travel with it: a review is placed
    only by that admin, in that account (an admin of two accounts who switched
    account, or a colleague given the page, gets the current account's review).
    """
    return signing.dumps(
        {
            "account": account_id,
            "user": user_id,
            "token": checkout_token,
            "at": quote.at.isoformat(),
            "fp": quote.fingerprint(),
            "due": str(quote.amount_due.amount),
            "currency": quote.currency,
        },
        salt=REVIEW_SALT,
    )


class PlaceOrderForm(forms.Form):
    review = forms.CharField(widget=forms.HiddenInput, max_length=1000)

    def __init__(self, *args, account_id: int, user_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_id = account_id
        self.user_id = user_id

    def clean_review(self) -> dict:
        try:
            reviewed = signing.loads(
                self.cleaned_data["review"], salt=REVIEW_SALT, max_age=REVIEW_VALID_SECONDS
            )
        except signing.SignatureExpired:
            raise forms.ValidationError(
                _("Your review is more than 15 minutes old; here are the current amounts."),
                code="expired",
            ) from None
        except signing.BadSignature:
            raise forms.ValidationError(
                _("This review could not be verified; here are the current amounts."),
                code="invalid",
            ) from None
        if (reviewed.get("account"), reviewed.get("user")) != (self.account_id, self.user_id):
            raise forms.ValidationError(
                _(
                    "This review was made for another account or by another person, so "
                    "nothing was ordered. Here is the checkout of the account you are in now."
                ),
                code="other_account",
            )
        return reviewed


class VatNumberForm(forms.Form):
    vat_number = forms.CharField(
        label=_("VAT number"),
        max_length=40,
        help_text=_("With or without the country prefix, e.g. FR40303265045."),
    )

    def __init__(self, *args, country: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.country = country

    def clean_vat_number(self) -> str:
        try:
            return normalize_vat_number(self.cleaned_data["vat_number"], self.country)
        except InvalidVatNumber:
            raise forms.ValidationError(
                _(
                    "This is not a valid VAT number for %(country)s. Check the country "
                    "prefix and the digits."
                ),
                params={"country": self.country},
                code="invalid",
            ) from None
