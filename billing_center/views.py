"""The Billing Center and "Edit subscription"."""

from __future__ import annotations

import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing_center.money_views import home_money
from checkout.cart import cart_line_set
from checkout.models import CartLine
from payments.cards import default_payment_method
from renewals.selectors import renewals_owed
from subscriptions.access import SESSION_ACCOUNT_KEY, billing_admin_required
from subscriptions.forms import WHOLE_NUMBER, SeatsForm
from subscriptions.messages import quote_problem_message
from subscriptions.models import Subscription
from subscriptions.selectors import (
    account_subscription,
    account_subscriptions,
    is_purchase,
    subscription_seat_change_quote,
)

ACCOUNT_ID = re.compile(r"[0-9]{1,18}")
# Changed ("Edit subscription") or bought again ("Subscribe now").
EDITABLE = (Subscription.Status.ACTIVE, Subscription.Status.EXPIRED, Subscription.Status.CANCELED)


@billing_admin_required(self_service=False)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The Billing Center: each subscription with its licenses, price and next billing date."""
    account = request.account
    if account.is_corporate:
        return render(request, "billing_center/corporate.html")
    subscriptions = account_subscriptions(account=account)
    cart_rows = list(
        CartLine.objects.filter(cart__account=account).values_list("subscription_id", "new_seats")
    )
    request.cart_count = len(cart_rows)  # the header's cart badge, without counting again
    in_cart = dict(cart_rows)
    owed = renewals_owed(account=account, subscriptions=subscriptions)  # past due: Pay now
    for subscription in subscriptions:
        subscription.in_cart = in_cart.get(subscription.pk)
        subscription.owed = owed.get(subscription.pk)
    return render(
        request,
        "billing_center/home.html",
        {
            "subscriptions": subscriptions,
            "payment_method": default_payment_method(account=account),
            **home_money(account=account, subscriptions=subscriptions),
        },
    )


@billing_admin_required(self_service=False)
@require_POST
def switch_account(request: HttpRequest) -> HttpResponse:
    """Work on another account the user is billing admin of."""
    account_id = request.POST.get("account", "").strip()
    if not ACCOUNT_ID.fullmatch(account_id):  # int() would also take "٣" and "３"
        raise Http404
    # Among the accounts the decorator found the user administers (no second lookup).
    account = next((a for a in request.billing_accounts if a.pk == int(account_id)), None)
    if account is None:
        raise Http404
    request.session[SESSION_ACCOUNT_KEY] = account.pk
    next_url = request.POST.get("next", "")
    safe = next_url.startswith("/") and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return redirect(next_url if safe else reverse("billing_center:home"))


def _editable_subscription(request: HttpRequest, pk: int) -> Subscription:
    """The account's active subscription, expired trial or canceled subscription (offered
    again); anything else is not found."""
    subscription = account_subscription(account=request.account, pk=pk)
    if subscription is None:
        raise Http404
    if subscription.status not in EDITABLE:
        raise Http404
    return subscription


def _preview(subscription: Subscription, seats: int | None) -> dict:
    """What the change does to today's total, or why it cannot be made."""
    if seats is None:
        return {}
    try:
        quote = subscription_seat_change_quote(subscription=subscription, new_seats=seats)
    except ValueError as error:
        return {
            "preview_error": quote_problem_message(error),
            "preview_error_code": getattr(error, "code", ""),
        }
    return {"quote": quote}


def _seats_or_none(raw) -> int | None:
    """A typed count as the form reads it (ASCII digits only), or None."""
    text = str(raw).strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


@billing_admin_required
def subscription_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the number of licenses, see what it does today, add it to the cart.

    Without JavaScript the − and + buttons post back here and the page comes
    back with the new number and its preview; nothing is saved until
    "Add to cart".
    """
    # The id first: another account's subscription is not found, whatever the method.
    return _subscription_edit(request, _editable_subscription(request, pk))


@require_http_methods(["GET", "POST"])
def _subscription_edit(request: HttpRequest, subscription: Subscription) -> HttpResponse:
    assigned = subscription.assigned_seats
    form_kwargs = {"subscription": subscription, "assigned_seats": assigned}
    line = CartLine.objects.filter(cart__account=request.account, subscription=subscription).first()
    if request.method == "POST" and request.POST.get("adjust") in {"-1", "+1"}:
        seats = _seats_or_none(request.POST.get("seats")) or 0
        seats = max(0, seats + int(request.POST["adjust"]))
        form = SeatsForm(initial={"seats": seats}, **form_kwargs)
        preview_seats = seats
    elif request.method == "POST":
        form = SeatsForm(request.POST, **form_kwargs)
        if form.is_valid():
            seats = form.cleaned_data["seats"]
            try:
                cart_line_set(
                    account=request.account,
                    subscription=subscription,
                    new_seats=seats,
                    assigned_seats=assigned,
                )
            except ValidationError as error:
                form.add_error("seats", error.messages[0])
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(product)s with %(seats)d license is in your cart.",
                        "%(product)s with %(seats)d licenses is in your cart.",
                        seats,
                    )
                    % {"product": subscription.plan.product.name, "seats": seats},
                )
                return redirect("checkout:cart")
        preview_seats = None
    elif "seats" in request.GET:
        # "Change order" and shared links: show the count with its refusal, if any.
        form = SeatsForm({"seats": request.GET["seats"]}, **form_kwargs)
        form.is_valid()
        preview_seats = form.cleaned_data.get("seats")
    else:
        if line is not None:
            seats = line.new_seats
        else:
            seats = subscription.plan.min_seats if is_purchase(subscription) else None
        form = SeatsForm(
            initial={"seats": seats if seats is not None else subscription.seats}, **form_kwargs
        )
        preview_seats = seats
    context = {
        "subscription": subscription,
        "assigned_seats": assigned,
        "purchase": is_purchase(subscription),
        "form": form,
        "in_cart": line,
        **_preview(subscription, preview_seats),
    }
    return render(request, "billing_center/edit.html", context)


@billing_admin_required
def subscription_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The live preview fragment the edit page asks for as the number changes."""
    # The id first: another account's subscription is not found, whatever the method.
    return _subscription_preview(request, _editable_subscription(request, pk))


@require_GET
def _subscription_preview(request: HttpRequest, subscription: Subscription) -> HttpResponse:
    seats = _seats_or_none(request.GET.get("seats", ""))
    context = {"subscription": subscription, **_preview(subscription, seats)}
    if seats is None:
        context["preview_error"] = _("Enter the number of licenses as a whole number, such as 7.")
    return render(request, "billing_center/_preview.html", context)
