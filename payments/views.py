"""The card on file: the page that shows and replaces it, and Stripe.js's SetupIntents."""

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

from payments.cards import default_payment_method, payment_method_store
from payments.forms import CardForm
from payments.gateways import (
    GatewayRefused,
    GatewayUnavailable,
    SandboxGateway,
    StripeGateway,
    get_gateway,
)
from payments.models import Payment
from subscriptions.access import billing_admin_required
from subscriptions.activity import Channel


def account_payment(request: HttpRequest, payment_id: int) -> Payment:
    """This account's payment; another account's is not found."""
    return get_object_or_404(
        Payment.objects.select_related("payment_method", "order"),
        pk=payment_id,
        account=request.account,
    )


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
            payment_method_store(
                account=account,
                saved=saved,
                gateway_name=gateway.name,
                actor=request.user,
                channel=Channel.PORTAL,
            )
            messages.success(request, _("Your new card is saved and will be used from now on."))
            return redirect("payments:payment_method")
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
    return render(request, "payments/payment_method.html", context, status=status)


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
        return redirect("payments:payment_method")
    except GatewayUnavailable:
        messages.error(request, _("The payment service did not answer. Please try again."))
        return redirect("payments:payment_method")
    payment_method_store(
        account=request.account,
        saved=saved,
        gateway_name=gateway.name,
        actor=request.user,
        channel=Channel.PORTAL,
    )
    messages.success(request, _("Your new card is saved and will be used from now on."))
    return redirect("payments:payment_method")


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
