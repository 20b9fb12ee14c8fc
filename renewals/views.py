"""Paying a renewal on the portal: Pay now (a past-due or suspended subscription, the card
on file or a new one), and the page of a renewal payment the bank wants the customer to
authenticate (3-D Secure), where Pay now sends them when the bank asks."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from checkout.views import CARD_FIELDS
from payments.cards import default_payment_method
from payments.forms import CardForm
from payments.gateways import (
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    SandboxGateway,
    StripeGateway,
    get_gateway,
)
from payments.models import Payment
from payments.views import account_payment
from renewals.batch import renewal_token
from renewals.pay_now import (
    RenewalAlreadyPaid,
    RenewalBeingCharged,
    RenewalCardRequired,
    RenewalNeedsAuthentication,
    RenewalNotDue,
    renewal_pay_now,
)
from renewals.payments import (
    RenewalPaymentFailed,
    RenewalPaymentUnrecorded,
    RenewalPaymentWaiting,
    renewal_payment_authenticate,
    renewal_payment_due,
)
from renewals.selectors import renewal_owed
from subscriptions.access import billing_admin_required
from subscriptions.models import Subscription

UNAVAILABLE = gettext_lazy(
    "The payment service did not answer. Nothing was charged twice: please try again."
)
PAY_NOW_DECLINES = {
    "card_declined": gettext_lazy(
        "Your card was declined, so nothing was charged. Use another card or contact your bank."
    ),
    "expired_card": gettext_lazy("The card has expired, so nothing was charged. Use another card."),
    "insufficient_funds": gettext_lazy(
        "Your card has insufficient funds, so nothing was charged. Use another card."
    ),
}


@billing_admin_required
def renewal_payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    """A renewal payment of a past-due subscription: the bank's authentication.

    The link of the email the billing admins get when the bank asks for 3-D
    Secure, and where Pay now sends them when the bank asks. A failed one links
    to Pay now. Sandbox: the stand-in bank page's "Confirm payment" and "Cancel
    payment". Stripe: Stripe.js runs the bank's step and posts back; the
    server asks Stripe how it went. Completing records the renewal once.
    """
    # The id first: another account's payment is not found, whatever the method.
    return _renewal_payment_page(request, account_payment(request, payment_id))


@require_http_methods(["GET", "POST"])
def _renewal_payment_page(request: HttpRequest, payment: Payment) -> HttpResponse:
    if not payment.is_renewal:  # a checkout's payment has its own page
        return redirect("checkout:authenticate", payment_id=payment.pk)
    if payment.order_id:
        return redirect("checkout:order", number=payment.order.number)
    gateway = get_gateway()
    if request.method == "POST":
        return _renewal_payment_post(request, payment, gateway)
    state = {
        Payment.Status.REQUIRES_ACTION: "authenticate",
        Payment.Status.SUCCEEDED: "paid",  # its webhook came first: offer to finish
    }.get(payment.status, "failed")
    context = {
        "payment": payment,
        "due": renewal_payment_due(payment=payment),
        "state": state,
        "sandbox": isinstance(gateway, SandboxGateway),
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
        "payment_method_reference": (
            payment.payment_method.gateway_reference if payment.payment_method else ""
        ),
    }
    return render(request, "renewals/renewal_payment.html", context)


def _renewal_payment_post(
    request: HttpRequest, payment: Payment, gateway: PaymentGateway
) -> HttpResponse:
    again = redirect("renewals:renewal_payment", payment_id=payment.pk)
    try:
        order = renewal_payment_authenticate(
            payment=payment,
            authenticated=request.POST.get("outcome") == "authenticated",
            gateway=gateway,
        )
    except RenewalPaymentWaiting:
        messages.warning(request, _("Your bank has not confirmed the payment yet."))
        return again
    except RenewalPaymentFailed:
        messages.error(
            request,
            _(
                "The payment was not authenticated, so nothing was charged. The subscription "
                "stays past due."
            ),
        )
        return again
    except RenewalPaymentUnrecorded as unrecorded:
        if unrecorded.refunded:
            message = _(
                "The subscription changed while you were confirming the payment, so nothing "
                "was renewed and the payment was given back."
            )
        else:
            message = _(
                "The payment went through, but the renewal could not be recorded. Our support "
                "team will contact you; please do not pay again."
            )
        messages.error(request, message)
        return again
    except (GatewayUnavailable, GatewayRefused):
        messages.error(
            request,
            _("The payment service did not answer. Nothing was charged twice: please try again."),
        )
        return again
    messages.success(
        request, _("Thank you. The payment is confirmed and the subscription is renewed.")
    )
    return redirect("checkout:order", number=order.number)


# -- Pay now: a past-due renewal paid with the card on file or a new one ----------------


@sensitive_post_parameters("card_number", "cvc", "expiry")
@billing_admin_required
def renewal_pay(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Pay a past-due or suspended renewal now: the link of the failure email and of the
    Billing Center. Another account's subscription is not found, whatever the method."""
    if not Subscription.objects.filter(pk=subscription_id, account=request.account).exists():
        raise Http404
    return _renewal_pay(request, subscription_id)


@require_http_methods(["GET", "POST"])
def _renewal_pay(request: HttpRequest, subscription_id: int) -> HttpResponse:
    if request.method == "POST":
        return _renewal_pay_post(request, subscription_id)
    return _pay_page(request, subscription_id)


def _pay_page(
    request: HttpRequest,
    subscription_id: int,
    *,
    card_form: CardForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    account = request.account
    gateway = get_gateway()
    owed = renewal_owed(account=account, subscription_id=subscription_id)
    card_on_file = default_payment_method(account=account)
    if card_on_file is not None and card_on_file.gateway != gateway.name:
        card_on_file = None  # a card of another gateway cannot pay here
    # The card on file that the last try declined: offered, but a new card comes first.
    declined = (
        owed is not None
        and card_on_file is not None
        and Payment.objects.filter(
            checkout_token=renewal_token(subscription_id, owed.period_start),
            status=Payment.Status.FAILED,
        )
        .order_by("-pk")
        .values_list("payment_method_id", flat=True)
        .first()
        == card_on_file.pk
    )
    context = {
        "owed": owed,
        "subscription_id": subscription_id,
        "card_on_file": card_on_file,
        "card_on_file_declined": declined,
        "card_form": card_form or CardForm(),
        "ask_card": card_form is not None or card_on_file is None,
        "error": error,
        "sandbox": isinstance(gateway, SandboxGateway),
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
    }
    return render(request, "renewals/pay_now.html", context, status=status)


def _entered_card(request: HttpRequest, subscription_id: int):
    """The card entered on the page (None: the card on file pays), or the page again."""
    if isinstance(get_gateway(), SandboxGateway):
        if not request.POST.get("card_number", "").strip():
            return None
        card_form = CardForm(request.POST)
        if card_form.is_valid():
            return card_form.card()
        card_form.forget_secrets()
        return _pay_page(request, subscription_id, card_form=card_form, status=400)
    if any(name in request.POST for name in CARD_FIELDS):
        # PCI DSS: with Stripe, card data goes from the browser to Stripe only.
        error = _(
            "Card details are taken only by our payment provider's card form. Nothing was charged."
        )
        return _pay_page(request, subscription_id, error=error, status=400)
    setup_intent_id = request.POST.get("setup_intent", "").strip()
    if not setup_intent_id:
        return None
    if setup_intent_id.startswith("seti_") and len(setup_intent_id) <= 255:
        try:
            return StripeGateway().card_setup(
                account=request.account, setup_intent_id=setup_intent_id
            )
        except (ValueError, GatewayRefused):
            pass
        except GatewayUnavailable:
            return _pay_page(request, subscription_id, error=str(UNAVAILABLE), status=503)
    error = _("The new card could not be used. Nothing was charged. Please enter it again.")
    return _pay_page(request, subscription_id, error=error, status=400)


def _renewal_pay_post(request: HttpRequest, subscription_id: int) -> HttpResponse:
    again = redirect("renewals:renewal_pay", subscription_id=subscription_id)
    try:
        period_start = datetime.fromisoformat(request.POST.get("period", ""))
    except ValueError:
        period_start = None
    if period_start is None or period_start.tzinfo is None:
        messages.error(request, _("The page was out of date. Nothing was charged."))
        return again
    card = _entered_card(request, subscription_id)
    if isinstance(card, HttpResponse):
        return card
    try:
        order = renewal_pay_now(
            account=request.account,
            subscription_id=subscription_id,
            period_start=period_start,
            paid_by=request.user,
            card=card,
            language=get_language() or "en",
        )
    except Subscription.DoesNotExist:
        raise Http404 from None
    except RenewalAlreadyPaid:
        messages.info(request, _("This renewal is already paid. Nothing was charged."))
        return again
    except RenewalNotDue:
        messages.info(request, _("Nothing is due for this subscription. Nothing was charged."))
        return again
    except RenewalBeingCharged:
        messages.warning(
            request,
            _(
                "A payment for this renewal is being processed right now. Nothing was charged "
                "twice: please look again in a few minutes."
            ),
        )
        return again
    except RenewalNeedsAuthentication as needs:
        return redirect("renewals:renewal_payment", payment_id=needs.payment.pk)
    except RenewalCardRequired:
        error = _("Enter a card to pay. Nothing was charged.")
        return _pay_page(request, subscription_id, error=error, status=400)
    except RenewalPaymentFailed as failed:
        message = PAY_NOW_DECLINES.get(
            failed.reason,
            _(
                "The payment did not go through. Nothing was charged; the subscription stays "
                "past due."
            ),
        )
        return _pay_page(request, subscription_id, error=str(message), status=402)
    except RenewalPaymentWaiting:
        messages.warning(request, _("Your bank has not confirmed the payment yet."))
        return again
    except RenewalPaymentUnrecorded:
        messages.error(
            request,
            _(
                "The payment went through, but the renewal could not be recorded. Our support "
                "team will contact you; please do not pay again."
            ),
        )
        return again
    except (GatewayUnavailable, GatewayRefused):
        return _pay_page(request, subscription_id, error=str(UNAVAILABLE), status=503)
    messages.success(
        request, _("Thank you. The renewal is paid and the subscription is active again.")
    )
    return redirect("checkout:order", number=order.number)
