"""The bank's authentication (3-D Secure) of a Place order payment."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from checkout.payment_recovery import payment_authenticated
from checkout.services import (
    PaymentFailed,
    PaymentRequiresAction,
    PaymentUnavailable,
    ReviewOutdated,
    payment_bank_step_allowed,
)
from checkout.views import DECLINE_MESSAGES
from payments.gateways import (
    GatewayRefused,
    GatewayUnavailable,
    SandboxGateway,
    get_gateway,
)
from payments.models import Payment
from payments.views import account_payment
from subscriptions.access import billing_admin_required


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
    payment = account_payment(request, payment_id)
    if payment.is_renewal:  # a renewal is completed as a renewal, never as an order
        return redirect("renewals:renewal_payment", payment_id=payment.pk)
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
