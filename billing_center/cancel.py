"""Cancel a subscription at the end of its period, and keep it after all.

Thin views over ``subscription_cancel_at_period_end`` (the service support's
admin action calls too): a confirmation page that says when it ends and that
nothing is refunded, then the POST; "Keep subscription" on the Billing Center.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from subscriptions.access import billing_admin_required
from subscriptions.activity import Channel
from subscriptions.models import Subscription
from subscriptions.selectors import account_subscription
from subscriptions.services import subscription_cancel_at_period_end


def _account_subscription(request: HttpRequest, pk: int) -> Subscription:
    """The account's subscription; another account's (or none) is not found."""
    subscription = account_subscription(account=request.account, pk=pk)
    if subscription is None:
        raise Http404
    return subscription


def _cancel_at_period_end(request: HttpRequest, subscription: Subscription, *, cancel: bool):
    """Call the service; its refusal is shown as a message and nothing changes."""
    try:
        return subscription_cancel_at_period_end(
            subscription=subscription, cancel=cancel, actor=request.user, channel=Channel.PORTAL
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
        return None


@billing_admin_required
def subscription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """The confirmation page (GET) and the cancellation itself (POST)."""
    # The id first: another account's subscription is not found, whatever the method.
    return _subscription_cancel(request, _account_subscription(request, pk))


@require_http_methods(["GET", "POST"])
def _subscription_cancel(request: HttpRequest, subscription: Subscription) -> HttpResponse:
    if request.method == "POST":
        canceled = _cancel_at_period_end(request, subscription, cancel=True)
        if canceled is not None:
            messages.success(
                request,
                _("%(product)s is canceled. It ends at the end of its current period.")
                % {"product": subscription.plan.product.name},
            )
        return redirect("billing_center:home")
    cancelable = (
        subscription.status == Subscription.Status.ACTIVE and not subscription.cancel_at_period_end
    )
    return render(
        request,
        "billing_center/cancel.html",
        {"subscription": subscription, "cancelable": cancelable},
    )


@billing_admin_required
def subscription_keep(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Keep subscription": undo a pending cancellation."""
    return _subscription_keep(request, _account_subscription(request, pk))


@require_POST
def _subscription_keep(request: HttpRequest, subscription: Subscription) -> HttpResponse:
    if _cancel_at_period_end(request, subscription, cancel=False) is not None:
        messages.success(
            request,
            _("%(product)s continues and renews as before.")
            % {"product": subscription.plan.product.name},
        )
    return redirect("billing_center:home")
