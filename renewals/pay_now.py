"""Pay now: the billing admin pays a past-due (or suspended) renewal on the portal.

The same renewal, the same writer as the run: the amount is the renewal quote
of the subscription's unpaid period (``quote_renewal``, the account's credit
first), the attempt is one more ``Payment`` of that renewal (its token, the
next idempotency key), charged with the card on file or a card entered here,
and a paid one is recorded by ``renewal_payment_complete``, so the period is
recorded once whoever reports it (this page, a webhook, the run's retry).

Three steps, as the run's (``renewals/run.py``): under the subscription's row
lock the attempt is written and claimed, and committed; the gateway is asked
with no lock held; what it said is recorded under the lock again. The claim is
what keeps a renewal run off this renewal meanwhile (the run skips a claimed
attempt), and a live claim of the run keeps Pay now off it. A bank that asks
for 3-D Secure leaves the attempt waiting for the customer: the renewal payment
page (``renewals:renewal_payment``) completes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from checkout.cards import card_entered_save
from checkout.models import Order
from payments.attempts import payment_attempt_create
from payments.cards import card_on_file_make
from payments.closing import card_detach, unused_card_forget
from payments.gateways import (
    FAILED,
    REQUIRES_ACTION,
    SUCCEEDED,
    CardDetails,
    ChargeResult,
    GatewayRefused,
    GatewayUnavailable,
    PaymentGateway,
    StripeCardSetup,
    get_gateway,
)
from payments.models import Payment, PaymentMethod
from renewals.batch import (
    awaiting_customer,
    claimed_now,
    credit_given_back,
    credit_held,
    interrupted_attempt,
    renewal_order_number,
    renewal_token,
    with_plans,
)
from renewals.payments import (
    RenewalPaymentError,
    RenewalPaymentFailed,
    RenewalPaymentWaiting,
    _credit_give_back,
    renewal_payment_complete,
)
from renewals.run import RenewalRun
from renewals.selectors import UNPAID
from subscriptions import clock
from subscriptions.activity import Channel, activity_record
from subscriptions.credit import credit_balance
from subscriptions.models import Account, CreditLedgerEntry, Subscription, User
from subscriptions.money import round_money

# How long Pay now owns the attempt it charges: the renewal run leaves it alone meanwhile.
PAY_NOW_CLAIM = timedelta(minutes=10)
PAID_NOW = "renewal_paid_now"


class RenewalAlreadyPaid(RenewalPaymentError):
    """The period was paid already (another click, the run's retry): nothing charged."""

    def __init__(self, order: Order) -> None:
        super().__init__("already_paid")
        self.order = order


class RenewalNotDue(RenewalPaymentError):
    """Nothing is due: the subscription is not past due or suspended for that period."""


class RenewalBeingCharged(RenewalPaymentError):
    """Another attempt of this renewal is with the gateway right now (the run's retry)."""


class RenewalNeedsAuthentication(RenewalPaymentError):
    """The bank asks the customer to authenticate ``payment`` (3-D Secure)."""

    def __init__(self, payment: Payment) -> None:
        super().__init__("requires_action")
        self.payment = payment


class RenewalCardRequired(RenewalPaymentError):
    """No card on file for the gateway, and none entered."""


def renewal_pay_now(
    *,
    account: Account,
    subscription_id: int,
    period_start: datetime,
    paid_by: User,
    card: CardDetails | StripeCardSetup | None = None,
    language: str = "en",
    gateway: PaymentGateway | None = None,
) -> Order:
    """Pay the renewal of the period starting ``period_start`` now; returns its order.

    Raises ``Subscription.DoesNotExist`` for another account's subscription,
    ``RenewalAlreadyPaid`` when that period's order exists (nothing charged),
    ``RenewalNotDue``, ``RenewalBeingCharged``, ``RenewalCardRequired``,
    ``RenewalNeedsAuthentication`` (the bank's step: the attempt waits),
    ``RenewalPaymentFailed`` (declined: the dunning goes on as it was),
    ``RenewalPaymentWaiting``, and the gateway's ``GatewayUnavailable``.
    """
    gateway = gateway or get_gateway()
    # A card entered here is kept before any lock (Stripe is asked about its SetupIntent);
    # it becomes the card on file once it has paid.
    entered = card_entered_save(account=account, card=card, gateway=gateway) if card else None
    try:
        payment = _attempt_claim(
            account=account,
            subscription_id=subscription_id,
            period_start=period_start,
            paid_by=paid_by,
            method=entered,
            language=language,
            gateway=gateway,
        )
    except (RenewalPaymentError, Subscription.DoesNotExist):
        _entered_card_forget(entered)  # refused before any charge: not kept
        raise
    if isinstance(payment, Order):  # the credit paid it in full
        _entered_card_forget(entered)
        return payment
    if entered is not None and payment.payment_method_id != entered.pk:
        _entered_card_forget(entered)  # an interrupted attempt is sent again with its card
    try:
        result = gateway.charge_off_session(payment=payment)
    except (GatewayUnavailable, GatewayRefused):
        # Not known whether money moved: the attempt stays open with its idempotency
        # key, and the next Pay now (or the run, once the claim ran out) asks again.
        Payment.objects.filter(pk=payment.pk).update(claimed_until=None, updated_at=clock.now())
        raise
    return _result_record(payment=payment, result=result, paid_by=paid_by, gateway=gateway)


def _attempt_claim(
    *,
    account: Account,
    subscription_id: int,
    period_start: datetime,
    paid_by: User,
    method: PaymentMethod | None,
    language: str,
    gateway: PaymentGateway,
) -> Payment | Order:
    """Step 1, under the subscription's row lock: the attempt, written and claimed."""
    now = clock.now()
    token = renewal_token(subscription_id, period_start)
    with transaction.atomic():
        # The account first, as Place order does (the credit is taken under it), NO KEY:
        # the run's record step only refers to the account, and must not wait for it.
        # Then the subscription, as the record step and the 3-D Secure page lock it.
        Account.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
        subscription = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("account")
            .get(pk=subscription_id, account=account)
        )
        paid = Order.objects.filter(idempotency_key=token).first()
        if paid is not None:
            raise RenewalAlreadyPaid(paid)
        if subscription.status not in UNPAID or subscription.current_period_end != period_start:
            raise RenewalNotDue(str(subscription.status))
        attempts = list(
            Payment.objects.select_for_update(of=("self",))
            .filter(checkout_token=token)
            .select_related("payment_method")
        )
        if any(claimed_now(attempt, now) for attempt in attempts):
            raise RenewalBeingCharged("claimed")
        if (waiting := awaiting_customer(attempts)) is not None:
            raise RenewalNeedsAuthentication(waiting)
        with_plans([subscription])
        run = RenewalRun(at=now, batch_size=1, gateway=gateway, shard=(0, 1))
        number = renewal_order_number(subscription.pk, period_start)
        held = round_money(credit_held([account.pk], [number]).get(number, 0), account.currency)
        open_attempt = interrupted_attempt(attempts)
        if open_attempt is not None:
            # Sent before and never recorded (no answer): asked again as the same payment,
            # with its own idempotency key, so money moves at most once.
            renewal = run.renewal(subscription, credit=held, language=language)
            if renewal.quote.amount_due != open_attempt.amount:
                raise RenewalBeingCharged("interrupted")
            open_attempt.claimed_until = now + PAY_NOW_CLAIM
            open_attempt.save(update_fields=["claimed_until", "updated_at"])
            return open_attempt
        balance = credit_balance(account)
        if held.amount:
            # An earlier attempt that failed without giving its credit back.
            credit_given_back(account_id=account.pk, amount=held, reference=number, at=now).save()
            balance += held
        renewal = run.renewal(subscription, credit=balance, language=language)
        quote = renewal.quote
        if quote.credit_applied.amount:
            # Taken now, under the lock; given back if the charge fails.
            CreditLedgerEntry.objects.create(
                account=account,
                amount=-quote.credit_applied,
                reason=CreditLedgerEntry.Reason.APPLIED_TO_ORDER,
                reference=number,
                note=f"Renewal from {renewal.new_start:%Y-%m-%d}",
                created_at=now,
            )
        if not quote.amount_due.amount:
            unpaid_status = str(subscription.status)
            [order] = run.record_paid([renewal], _batch(subscription), now=now)
            _paid_activity(subscription, order, paid_by, before=unpaid_status)
            return order
        method = method or (
            PaymentMethod.objects.filter(
                account=account, is_default=True, gateway=gateway.name
            ).first()
        )
        if method is None:
            raise RenewalCardRequired("no_card")
        return payment_attempt_create(
            account=account,
            payment_method=method,
            checkout_token=token,
            idempotency_key=f"{token}:{len(attempts) + 1}",
            gateway_name=gateway.name,
            amount=quote.amount_due,
            quoted_at=now,
            created_at=now,
            language=language,
            created_by=paid_by,
            claimed_until=now + PAY_NOW_CLAIM,
        )


def _entered_card_forget(method: PaymentMethod | None) -> None:
    """A card typed in for a Pay now that charged nothing with it is not kept."""
    if method is None or method.payments.exists():
        return
    reference, gateway_name = method.gateway_reference, method.gateway
    method.delete()
    if gateway_name == PaymentMethod.Gateway.STRIPE:
        transaction.on_commit(lambda: card_detach(reference), robust=True)


def _batch(subscription: Subscription):
    from renewals.batch import Batch

    return Batch(last_pk=subscription.pk)


def _result_record(
    *, payment: Payment, result: ChargeResult, paid_by: User, gateway: PaymentGateway
) -> Order:
    """Step 3: what the gateway said, under the subscription's lock again."""
    from renewals.payments import renewal_subscription_id

    with transaction.atomic():
        subscription = Subscription.objects.select_for_update(of=("self",)).get(
            pk=renewal_subscription_id(payment)
        )
        payment = (
            Payment.objects.select_for_update(of=("self",))
            .select_related("payment_method", "account")
            .get(pk=payment.pk)
        )
        payment.claimed_until = None
        payment.reference = result.reference or payment.reference
        if result.status == SUCCEEDED:
            payment.status = Payment.Status.SUCCEEDED
        elif result.status == REQUIRES_ACTION:
            payment.status = Payment.Status.REQUIRES_ACTION
            payment.client_secret = result.client_secret or payment.client_secret
            payment.failure_reason = "authentication_required"
            # The customer is on the page: no email asks them to do it.
            payment.authentication_requested_at = clock.now()
        elif result.status == FAILED:
            payment.status = Payment.Status.FAILED
            payment.failure_reason = result.failure_reason or result.status
        payment.save()
        if result.status == FAILED:
            # The credit goes back; the dunning goes on as it was (a retry is still due).
            # A card typed in for this payment is not kept (payments/closing.py).
            _credit_give_back(payment, subscription)
            unused_card_forget(payment)
    if result.status == REQUIRES_ACTION:
        raise RenewalNeedsAuthentication(payment)
    if result.status == FAILED:
        raise RenewalPaymentFailed(payment.failure_reason)
    if result.status != SUCCEEDED:
        raise RenewalPaymentWaiting(result.status)
    unpaid_status = str(subscription.status)
    error = None
    with transaction.atomic():
        try:
            order = renewal_payment_complete(payment=payment, result=result, gateway=gateway)
        except RenewalPaymentError as not_recorded:
            # What it wrote (the payment refunded, the credit back) is kept: commit it.
            error = not_recorded
        else:
            if payment.payment_method and payment.payment_method.entered_at_checkout:
                card_on_file_make(payment.payment_method)
            _paid_activity(subscription, order, paid_by, before=unpaid_status)
    if error is not None:
        raise error
    return order


def _paid_activity(subscription: Subscription, order: Order, paid_by: User, *, before: str) -> None:
    activity_record(
        account=subscription.account_id,
        actor=paid_by,
        channel=Channel.PORTAL,
        action=PAID_NOW,
        target=f"subscription {subscription.pk} ({order.lines.first().product_name})",
        before={"status": before},
        after={
            "status": str(Subscription.Status.ACTIVE),
            "order": order.number,
            "amount": str(order.amount_due.amount),
            "currency": str(order.amount_due.currency),
        },
    )
