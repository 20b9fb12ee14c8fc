"""The page of a renewal payment the bank wants the customer to authenticate."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from payments.gateways import (
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    SandboxGateway,
    get_gateway,
)
from payments.models import Payment
from payments.views import account_payment
from renewals.payments import (
    RenewalPaymentFailed,
    RenewalPaymentUnrecorded,
    RenewalPaymentWaiting,
    renewal_payment_authenticate,
    renewal_payment_due,
)
from subscriptions.access import billing_admin_required


@billing_admin_required
def renewal_payment(request: HttpRequest, payment_id: int) -> HttpResponse:
    """A renewal payment of a past-due subscription: today, the bank's authentication.

    The link of the email the billing admins get when the bank asks for 3-D
    Secure. Sandbox: the stand-in bank page's "Confirm payment" and "Cancel
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
