"""Pages of the payment itself: authentication (3-D Secure) of Place order's payments and
of renewal payments, and the card on file."""

from __future__ import annotations

import stripe
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from checkout.cards import payment_method_store
from checkout.forms import CardForm
from checkout.gateways import (
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    SandboxGateway,
    StripeGateway,
    get_gateway,
)
from checkout.models import Payment
from checkout.payment_recovery import payment_authenticated
from checkout.renewal_payments import (
    RenewalPaymentFailed,
    RenewalPaymentUnrecorded,
    RenewalPaymentWaiting,
    is_renewal_payment,
    renewal_payment_authenticate,
    renewal_payment_due,
)
from checkout.selectors import default_payment_method
from checkout.services import (
    PaymentFailed,
    PaymentRequiresAction,
    PaymentUnavailable,
    ReviewOutdated,
    payment_bank_step_allowed,
)
from checkout.views import DECLINE_MESSAGES
from subscriptions.access import billing_admin_required


def _account_payment(request: HttpRequest, payment_id: int) -> Payment:
    """This account's payment; another account's is not found."""
    return get_object_or_404(
        Payment.objects.select_related("payment_method", "order"),
        pk=payment_id,
        account=request.account,
    )


def _settled(request: HttpRequest, payment: Payment) -> HttpResponse | None:
    """Where to go when the payment is no longer waiting for the bank (a webhook was first)."""
    if payment.order_id:
        return redirect("checkout:order", number=payment.order.number)
    if payment.status in (
        Payment.Status.FAILED,
        Payment.Status.CANCELED,
        Payment.Status.REFUNDED,
    ):
        messages.error(
            request,
            DECLINE_MESSAGES.get(
                payment.failure_reason, _("The payment did not go through. Nothing was ordered.")
            ),
        )
        return redirect("checkout:review")
    return None


@billing_admin_required
def authenticate(request: HttpRequest, payment_id: int) -> HttpResponse:
    """The bank asks the admin to confirm the payment before the order is placed.

    Sandbox: a page standing in for the bank's, with "Authenticate" and
    "Fail". Stripe: Stripe.js runs the bank's step in the browser and posts
    back; the server then asks Stripe how it went. Leaving changes nothing.
    """
    # The id first: another account's payment is not found, whatever the method.
    payment = _account_payment(request, payment_id)
    if is_renewal_payment(payment):  # a renewal is completed as a renewal, never as an order
        return redirect("checkout:renewal_payment", payment_id=payment.pk)
    return _authenticate(request, payment)


@require_http_methods(["GET", "POST"])
def _authenticate(request: HttpRequest, payment: Payment) -> HttpResponse:
    if payment.status != Payment.Status.SUCCEEDED and (settled := _settled(request, payment)):
        return settled
    if payment.status == Payment.Status.PROCESSING:
        raise Http404
    gateway = get_gateway()
    sandbox = isinstance(gateway, SandboxGateway)
    if payment.status == Payment.Status.REQUIRES_ACTION and (
        request.method == "GET" or (sandbox and request.POST.get("outcome") == "authenticated")
    ):
        # The bank's step takes the money: only for a review that still holds.
        try:
            payment_bank_step_allowed(payment=payment, gateway=gateway)
        except ReviewOutdated:
            payment.refresh_from_db(fields=["status"])
            if payment.status == Payment.Status.REFUNDED:
                # Stripe.js had finished the bank's step, unknown to us: given back.
                message = _(
                    "Something changed while you were authenticating. Nothing was ordered "
                    "and the payment was given back. Please check the new amounts."
                )
            else:
                message = _(
                    "Something changed since your review, so your bank was not asked and "
                    "nothing was charged. Please check the new amounts."
                )
            messages.warning(request, message)
            return redirect("checkout:review")
    if request.method == "GET" and payment.status == Payment.Status.REQUIRES_ACTION:
        return render(
            request,
            "checkout/authenticate.html",
            {
                "payment": payment,
                "sandbox": sandbox,
                "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
                "stripe_js_url": settings.STRIPE_JS_URL,
            },
        )
    if request.method == "GET":  # paid already (its webhook came first): offer to finish
        return render(request, "checkout/authenticate.html", {"payment": payment, "paid": True})
    try:
        if sandbox:
            result = gateway.authenticate(
                payment=payment, success=request.POST.get("outcome") == "authenticated"
            )
        else:
            result = gateway.retrieve(payment=payment)
        order = payment_authenticated(payment=payment, result=result, gateway=gateway)
    except PaymentRequiresAction:
        messages.warning(request, _("Your bank has not confirmed the payment yet."))
        return redirect("checkout:authenticate", payment_id=payment.pk)
    except PaymentFailed as failed:
        messages.error(
            request,
            DECLINE_MESSAGES.get(
                failed.reason, _("The payment did not go through. Nothing was ordered.")
            ),
        )
        return redirect("checkout:review")
    except ReviewOutdated:
        messages.warning(
            request,
            _(
                "Something changed while you were authenticating. Nothing was ordered and the "
                "payment was given back. Please check the new amounts."
            ),
        )
        return redirect("checkout:review")
    except (PaymentUnavailable, GatewayUnavailable, GatewayRefused):
        messages.error(
            request,
            _("The payment service did not answer. Nothing was charged twice: please try again."),
        )
        return redirect("checkout:authenticate", payment_id=payment.pk)
    return redirect("checkout:order", number=order.number)


@sensitive_post_parameters("card_number", "cvc", "expiry")
@billing_admin_required
@require_http_methods(["GET", "POST"])
def payment_method(request: HttpRequest) -> HttpResponse:
    """The card on file, and replacing it.

    Sandbox: a card form (only brand, last four and expiry are kept). Stripe:
    Stripe.js collects the card with a SetupIntent, so the number never
    reaches this server; the page posts back the SetupIntent's id.
    """
    account = request.account
    gateway = get_gateway()
    form = CardForm()
    if request.method == "POST" and isinstance(gateway, SandboxGateway):
        form = CardForm(request.POST)
        if form.is_valid():
            saved = gateway.save_card(card=form.card())
            payment_method_store(account=account, saved=saved, gateway_name=gateway.name)
            messages.success(request, _("Your new card is saved and will be used from now on."))
            return redirect("checkout:payment_method")
        form.forget_secrets()
    context = {
        "payment_method": default_payment_method(account=account),
        "sandbox": isinstance(gateway, SandboxGateway),
        "card_form": form,
        "publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "stripe_js_url": settings.STRIPE_JS_URL,
    }
    if isinstance(gateway, StripeGateway):
        try:
            context["setup_intent_id"], context["client_secret"] = gateway.setup_intent_create(
                account=account
            )
        except GatewayUnavailable:
            context["unavailable"] = True
    status = 400 if form.errors else 200
    return render(request, "checkout/payment_method.html", context, status=status)


@billing_admin_required
@require_POST
def stripe_card_saved(request: HttpRequest) -> HttpResponse:
    """Stripe.js confirmed a SetupIntent in the browser: keep that card as the default."""
    gateway = get_gateway()
    if not isinstance(gateway, StripeGateway):
        raise Http404
    setup_intent_id = request.POST.get("setup_intent", "")
    if not setup_intent_id.startswith("seti_") or len(setup_intent_id) > 255:
        raise Http404
    try:
        saved = gateway.setup_intent_card(account=request.account, setup_intent_id=setup_intent_id)
    except (ValueError, ValidationError, stripe.StripeError, GatewayRefused):
        messages.error(request, _("The card could not be saved. Please try again."))
        return redirect("checkout:payment_method")
    except GatewayUnavailable:
        messages.error(request, _("The payment service did not answer. Please try again."))
        return redirect("checkout:payment_method")
    payment_method_store(account=request.account, saved=saved, gateway_name=gateway.name)
    messages.success(request, _("Your new card is saved and will be used from now on."))
    return redirect("checkout:payment_method")


@never_cache
@billing_admin_required
@require_POST
def stripe_setup_intent(request: HttpRequest) -> HttpResponse:
    """A SetupIntent for a card typed on the review, as JSON: Stripe.js confirms it.

    Asked for when the admin places an order with a new card, not when the page is
    shown: most orders are paid with the card on file. The client secret lets only
    Stripe.js attach a card to this account's customer; the page then posts the
    SetupIntent's id with Place order, never the card.
    """
    gateway = get_gateway()
    if not isinstance(gateway, StripeGateway):
        raise Http404
    try:
        _setup_intent_id, client_secret = gateway.setup_intent_create(account=request.account)
    except (GatewayUnavailable, GatewayRefused):
        message = _("The payment service did not answer. Please try again.")
        return JsonResponse({"error": message}, status=503)
    return JsonResponse({"client_secret": client_secret})


@billing_admin_required
def renewal_payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    """A renewal payment of a past-due subscription: today, the bank's authentication.

    The link of the email the billing admins get when the bank asks for 3-D
    Secure. Sandbox: the stand-in bank page's "Confirm payment" and "Cancel
    payment". Stripe: Stripe.js runs the bank's step and posts back; the
    server asks Stripe how it went. Completing records the renewal once.
    """
    # The id first: another account's payment is not found, whatever the method.
    return _renewal_payment_page(request, _account_payment(request, payment_id))


@require_http_methods(["GET", "POST"])
def _renewal_payment_page(request: HttpRequest, payment: Payment) -> HttpResponse:
    if not is_renewal_payment(payment):  # a checkout's payment has its own page
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
    return render(request, "checkout/renewal_payment.html", context)


def _renewal_payment_post(
    request: HttpRequest, payment: Payment, gateway: PaymentGateway
) -> HttpResponse:
    again = redirect("checkout:renewal_payment", payment_id=payment.pk)
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
