"""A renewal is an order like any other: it gets its invoice, and its email carries it."""

from __future__ import annotations

import pytest

from checkout.models import Order
from invoices.models import Invoice
from tests.factories import MembershipFactory, PaymentMethodFactory
from tests.invoices.conftest import pdf_text
from tests.renewals.conftest import DEC_1, JAN_1, give_credit, renew, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    membership = MembershipFactory(
        account__name="Acme GmbH", account__country="DE", user__email="anna@acme.example"
    )
    PaymentMethodFactory(account=membership.account)
    return membership.account


def test_each_renewal_gets_an_invoice_and_its_email_carries_it(
    acme, django_capture_on_commit_callbacks, mailoutbox
):
    subscribe(acme)
    give_credit(acme, "100.00")
    with django_capture_on_commit_callbacks(execute=True):
        renew(DEC_1)
    order = Order.objects.get()
    invoice = Invoice.objects.get(order=order)

    assert invoice.number == "2026-000001"
    assert (invoice.net, invoice.tax, invoice.gross) == (order.subtotal, order.tax, order.total)
    [message] = mailoutbox
    filename, content, _ = message.attachments[0]
    assert filename == "invoice-2026-000001.pdf"
    text = pdf_text(content)
    assert "Service period: Dec. 1, 2026 – Jan. 1, 2027" in text
    assert "Account credit used −€100.00" in text
    assert "Amount paid with Visa •••• 4242 (12/2030) €399.80" in text

    # The next year's first renewal starts the next year's series.
    with django_capture_on_commit_callbacks(execute=True):
        renew(JAN_1)
    assert Invoice.objects.get(order__effective_at=JAN_1).number == "2027-000001"
