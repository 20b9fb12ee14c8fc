"""The account's money: its credit ledger and its billing profile."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from billing_center.forms import BillingProfileForm
from billing_center.ledger import account_ledger_page
from renewals.forecast import next_charges
from subscriptions.access import billing_admin_required
from subscriptions.activity import Channel
from subscriptions.billing_profile import BillingAddress, account_billing_profile_update
from subscriptions.credit import credit_balance, credit_balances
from subscriptions.models import Account, Subscription
from subscriptions.money import CurrencyMismatch


def home_money(*, account: Account, subscriptions: list[Subscription]) -> dict:
    """The Billing Center's credit balance and each subscription's ``next_charge``.

    Two queries however many subscriptions (the ledger's sum, the VAT rates). A ledger
    in a foreign currency (a data error for support) shows no balance and no charges.
    """
    balance = credit_balances([account])[account.pk]
    if isinstance(balance, CurrencyMismatch):
        return {"credit_balance": None}
    charges = next_charges(subscriptions, account=account, credit=balance)
    for subscription in subscriptions:
        subscription.next_charge = charges.get(subscription.pk)
    return {"credit_balance": balance}


@billing_admin_required
@require_GET
def credit(request: HttpRequest) -> HttpResponse:
    """What added to the account's credit and what used it, newest first."""
    account = request.account
    page, rows = account_ledger_page(account=account, page=request.GET.get("page"))
    return render(
        request,
        "billing_center/credit.html",
        {"balance": credit_balance(account), "page": page, "rows": rows},
    )


@billing_admin_required
@require_http_methods(["GET", "POST"])
def billing_profile(request: HttpRequest) -> HttpResponse:
    """The company name, address, VAT number and extra recipients invoices go to."""
    account = request.account
    form = BillingProfileForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        try:
            account_billing_profile_update(
                account=account,
                address=form.address(),
                vat_number=form.cleaned_data["vat_number"],
                invoice_recipients=form.cleaned_data["invoice_recipients"],
                actor=request.user,
                channel=Channel.PORTAL,
            )
        except ValidationError as error:
            # The form checks what the service does; this is the rare race (e.g. the
            # country changed by support meanwhile): shown on the form, nothing saved.
            by_field = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
            for field, problems in by_field.items():
                form.add_error(field if field in form.fields else None, problems[0])
        else:
            messages.success(request, _("Billing profile saved."))
            return redirect("billing_center:billing_profile")
    context = {
        "form": form,
        "address_fields": [form[name] for name in BillingAddress.__dataclass_fields__],
        "country_name": country_name(account.country),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "billing_center/billing_profile.html", context, status=status)


def country_name(code: str) -> str:
    """The country's name in the reader's language ("Deutschland"), else its code."""
    try:
        names = Locale.parse(to_locale(get_language() or "en")).territories
    except (ValueError, UnknownLocaleError):
        return code
    return names.get(code, code)
