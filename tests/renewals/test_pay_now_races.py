"""Pay now clicked twice while the renewal run retries the same renewal: one order."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection

from checkout.models import Order
from payments.gateways import SandboxGateway
from payments.models import Payment, PaymentMethod
from renewals.pay_now import (
    RenewalAlreadyPaid,
    RenewalBeingCharged,
    RenewalNotDue,
    renewal_pay_now,
)
from renewals.payments import RenewalPaymentError
from renewals.run import subscriptions_renew
from subscriptions.models import Subscription
from subscriptions.services import tax_rates_ensure_eu_standard
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.renewals.conftest import DEC_1, JAN_1, subscribe


class SlowSandbox(SandboxGateway):
    """Answers after a while, so that Pay now and the run overlap."""

    def __init__(self):
        self.charged = []

    def charge_off_session(self, *, payment):
        self.charged.append(payment.idempotency_key)
        time.sleep(0.05)
        return super().charge_off_session(payment=payment)


@pytest.mark.parametrize("first", ["run", "pay"])
def test_two_pay_now_clicks_and_a_renewal_retry_at_once_record_one_order(transactional_db, first):
    """Whoever starts first charges; the others find it claimed or paid."""
    tax_rates_ensure_eu_standard()  # a transactional test starts from empty tables
    membership = MembershipFactory(account__name="Acme GmbH", account__country="DE")
    account, admin = membership.account, membership.user
    PaymentMethodFactory(account=account, last4="0002")
    subscription = subscribe(account)
    with time_machine.travel(DEC_1, tick=False):
        subscriptions_renew(at=DEC_1)
    # The admin replaced the declined card; Pay now and the retry both use it.
    PaymentMethod.objects.filter(account=account).update(last4="4242")

    retry = DEC_1 + timedelta(days=1)
    gateway = SlowSandbox()
    start, results, refusals, errors = threading.Barrier(3), [], [], []

    def act(what):
        try:
            start.wait()
            if what != first:
                time.sleep(0.02)  # a head start, not a lock: they still overlap
            if what == "pay":
                order = renewal_pay_now(
                    account=account,
                    subscription_id=subscription.pk,
                    period_start=DEC_1,
                    paid_by=admin,
                    gateway=gateway,
                )
                results.append(order.pk)
            else:
                subscriptions_renew(at=retry, overlap=False, gateway=gateway)
        except (RenewalAlreadyPaid, RenewalBeingCharged, RenewalNotDue) as refused:
            refusals.append(type(refused).__name__)
        except (RenewalPaymentError, Exception) as error:
            errors.append(error)
        finally:
            connection.close()

    with time_machine.travel(retry, tick=False):
        threads = [threading.Thread(target=act, args=(w,)) for w in ("pay", "pay", "run")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    order = Order.objects.get()
    assert set(results) <= {order.pk}
    assert len(results) + len(refusals) == 2
    # Charged once: one attempt succeeded, and nobody charged a second one.
    assert Payment.objects.filter(status="succeeded").count() == 1
    assert len(gateway.charged) == 1
    subscription.refresh_from_db()
    assert (subscription.status, subscription.current_period_end) == ("active", JAN_1)
    assert subscription.renewal_attempts == 0
    assert Subscription.objects.get().next_renewal_attempt_at is None
