"""Cart, review ("Kasse"), Place order, and the account's orders."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST
from moneyed import Money

from checkout.cart import cart_line_remove
from checkout.forms import PlaceOrderForm, VatNumberForm, review_token
from checkout.models import Cart, CartLine, Order
from checkout.selectors import CartReview, account_orders, cart_lines, cart_review
from checkout.services import (
    PaymentDetailsRequired,
    PaymentFailed,
    PaymentInProgress,
    PaymentRequiresAction,
    PaymentUnavailable,
    ReviewOutdated,
    order_place,
)
from payments.forms import CardForm
from payments.gateways import (
    CardDetails,
    GatewayRefused,
    GatewayUnavailable,
    StripeCardSetup,
    StripeGateway,
)
from subscriptions import clock
from subscriptions.access import billing_admin_required
from subscriptions.activity import Channel
from subscriptions.services import account_set_vat_number

DECLINE_MESSAGES = {
    "card_declined": gettext_lazy("Your card was declined. Use another card or contact your bank."),
    "expired_card": gettext_lazy("The card on file has expired. Enter new payment details."),
    "authentication_failed": gettext_lazy(
        "The payment was not authenticated, so nothing was ordered. Try again or use another card."
    ),
    "insufficient_funds": gettext_lazy("Your card has insufficient funds. Use another card."),
    "incorrect_cvc": gettext_lazy("The card's security code was not accepted."),
}
# The sandbox form's fields. With Stripe the portal never reads them: a post that has
# any of them is refused whole (PCI DSS: card data goes from the browser to Stripe only).
CARD_FIELDS = ("card_number", "expiry", "cvc")


def stripe_mode() -> bool:
    """Whether cards are taken by Stripe.js (the gateway ``get_gateway`` gives is Stripe's)."""
    return settings.PAYMENT_GATEWAY == "stripe"


@billing_admin_required
@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    lines = cart_lines(account=request.account)
    return render(request, "checkout/cart.html", {"lines": lines})


@billing_admin_required
def cart_line_delete(request: HttpRequest, line_id: int) -> HttpResponse:
    # The id first: another account's line is not found, whatever the method.
    if not CartLine.objects.filter(cart__account=request.account, pk=line_id).exists():
        raise Http404
    return _cart_line_delete(request, line_id)


@require_POST
def _cart_line_delete(request: HttpRequest, line_id: int) -> HttpResponse:
    try:
        cart_line_remove(account=request.account, line_id=line_id)
    except (Cart.DoesNotExist, CartLine.DoesNotExist):
        raise Http404 from None
    messages.success(request, _("The line was removed from your cart."))
    return redirect("checkout:cart")


def _render_review(
    request: HttpRequest,
    review: CartReview,
    *,
    note: str = "",
    card_form: CardForm | None = None,
    vat_form: VatNumberForm | None = None,
    error: str = "",
    ask_card: bool = False,
    status: int = 200,
) -> HttpResponse:
    # The header's cart badge counts the lines this page has read already.
    request.cart_count = len(review.lines)
    context = {
        "review": review,
        "note": note,
        "error": error,
        "ask_card": ask_card or review.needs_payment_details,
        "card_form": card_form or CardForm(),
    }
    if stripe_mode():
        context["stripe"] = {
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "js_url": settings.STRIPE_JS_URL,
        }
    if review.may_add_vat_number:
        context["vat_form"] = vat_form or VatNumberForm(country=request.account.country)
    if review.quote is not None:
        names = {line.subscription_id: line.subscription.plan.product.name for line in review.lines}
        context["quoted_lines"] = [
            (line, quoted, names.get(line.subscription_id)) for line, quoted in review.quote.lines
        ]
    if review.can_place:
        # PlaceOrderForm's hidden field, written in the template.
        context["review_token"] = review_token(
            checkout_token=str(review.cart.checkout_token),
            quote=review.quote,
            account_id=request.account.pk,
            user_id=request.user.pk,
        )
    return render(request, "checkout/review.html", context, status=status)


@billing_admin_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    """The review page: every amount of the cart, quoted now."""
    return _render_review(request, cart_review(account=request.account, at=clock.now()))


@sensitive_post_parameters("card_number", "cvc", "expiry")
@billing_admin_required
@require_POST
def place_order(request: HttpRequest) -> HttpResponse:
    """Place the reviewed cart. The page's amounts are never read: only what was signed."""
    account = request.account
    if stripe_mode() and any(name in request.POST for name in CARD_FIELDS):
        again = cart_review(account=account, at=clock.now())
        message = _(
            "Card details are taken only by our payment provider's card form, not by this "
            "page. Nothing was ordered. Please enter your card again."
        )
        return _render_review(request, again, error=message, ask_card=True, status=400)
    form = PlaceOrderForm(request.POST, account_id=account.pk, user_id=request.user.pk)
    if not form.is_valid():
        fresh = cart_review(account=account, at=clock.now())
        return _render_review(request, fresh, note=" ".join(form.errors["review"]), status=409)
    reviewed = form.cleaned_data["review"]
    card = _stripe_card(request) if stripe_mode() else _sandbox_card(request)
    if isinstance(card, HttpResponse):
        return card
    try:
        order = order_place(
            account=account,
            placed_by=request.user,
            checkout_token=uuid.UUID(reviewed["token"]),
            quoted_at=datetime.fromisoformat(reviewed["at"]),
            fingerprint=reviewed["fp"],
            amount_due=Money(reviewed["due"], reviewed["currency"]),
            card=card,
            language=get_language() or "en",
        )
    except PaymentRequiresAction as needs_action:
        return redirect("checkout:authenticate", payment_id=needs_action.payment.pk)
    except (PaymentUnavailable, PaymentInProgress):
        again = cart_review(account=account, at=clock.now())
        message = _(
            "The payment service did not answer. Nothing was ordered and nothing was "
            "charged twice: please try again in a moment."
        )
        return _render_review(request, again, error=message, status=503)
    except ReviewOutdated:
        fresh = cart_review(account=account, at=clock.now())
        note = _(
            "Something changed since your review (licenses, billing period, price, tax or "
            "account credit). Nothing was ordered. Please check the new amounts."
        )
        if fresh.is_empty:
            note = _("Your cart changed since your review. Nothing was ordered.")
        return _render_review(request, fresh, note=note, status=409)
    except PaymentDetailsRequired:
        again = cart_review(account=account, at=clock.now())
        return _render_review(
            request,
            again,
            error=_("Enter your payment details to place this order."),
            ask_card=True,
            status=400,
        )
    except PaymentFailed as failed:
        again = cart_review(account=account, at=clock.now())
        message = DECLINE_MESSAGES.get(
            failed.reason, _("The payment did not go through. Nothing was ordered.")
        )
        return _render_review(request, again, error=str(message), ask_card=True, status=402)
    return redirect("checkout:order", number=order.number)


def _sandbox_card(request: HttpRequest) -> CardDetails | HttpResponse | None:
    """The card typed into the sandbox form; none (an empty form) pays with the card on file."""
    if not request.POST.get("card_number", "").strip():
        return None
    card_form = CardForm(request.POST)
    if card_form.is_valid():
        return card_form.card()
    card_form.forget_secrets()
    again = cart_review(account=request.account, at=clock.now())
    return _render_review(request, again, card_form=card_form, ask_card=True, status=400)


def _stripe_card(request: HttpRequest) -> StripeCardSetup | HttpResponse | None:
    """The card Stripe.js set up on the review (a SetupIntent's id, checked with Stripe
    before any lock is taken); none pays with the card on file."""
    setup_intent_id = request.POST.get("setup_intent", "").strip()
    if not setup_intent_id:
        return None
    error = _("The new card could not be used. Nothing was ordered. Please enter it again.")
    status = 400
    if setup_intent_id.startswith("seti_") and len(setup_intent_id) <= 255:
        try:
            return StripeGateway().card_setup(
                account=request.account, setup_intent_id=setup_intent_id
            )
        except (ValueError, GatewayRefused):
            pass
        except GatewayUnavailable:
            error = _(
                "The payment service did not answer. Nothing was ordered and nothing was "
                "charged twice: please try again in a moment."
            )
            status = 503
    again = cart_review(account=request.account, at=clock.now())
    return _render_review(request, again, error=error, ask_card=True, status=status)


@billing_admin_required
@require_POST
def vat_number_add(request: HttpRequest) -> HttpResponse:
    """Add the account's VAT number from the review page; the tax is recomputed."""
    account = request.account
    if not cart_review(account=account, at=clock.now()).may_add_vat_number:
        raise Http404  # only EU businesses outside the seller's country, without a number
    form = VatNumberForm(request.POST, country=account.country)
    if form.is_valid():
        try:
            account_set_vat_number(
                account=account,
                vat_number=form.cleaned_data["vat_number"],
                actor=request.user,
                channel=Channel.PORTAL,
            )
        except ValidationError as error:
            form.add_error("vat_number", error.messages[0])
        else:
            messages.success(
                request, _("VAT number saved. Reverse charge applies: no VAT is added.")
            )
            return redirect("checkout:review")
    fresh = cart_review(account=account, at=clock.now())
    return _render_review(request, fresh, vat_form=form, status=400)


@billing_admin_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    # Each order's invoice (the invoices app's, a relation only) comes with it.
    orders = account_orders(account=request.account).select_related("invoice")
    orders = orders.prefetch_related("lines")
    return render(request, "checkout/orders.html", {"orders": orders})


@billing_admin_required
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The receipt; right after Place order it is the confirmation page too."""
    # The number first: another account's order is not found, whatever the method.
    order = get_object_or_404(
        Order.objects.select_related("invoice").prefetch_related("lines", "payments"),
        account=request.account,
        number=number,
    )
    return _order_detail(request, order)


@require_GET
def _order_detail(request: HttpRequest, order: Order) -> HttpResponse:
    return render(request, "checkout/order.html", {"order": order, "lines": order.lines.all()})
