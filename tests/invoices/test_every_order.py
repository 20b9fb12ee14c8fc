"""Which orders get an invoice, and the e-invoice's sums as EN 16931's rules want them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from lxml import etree
from moneyed import Money

from checkout.selectors import cart_review
from checkout.staff import staff_seat_change, staff_seat_change_review
from invoices.einvoice import invoice_xml
from invoices.models import Invoice
from invoices.services import invoice_kind
from tests.factories import UserFactory
from tests.shared_fixtures import AT, put_in_cart

pytestmark = pytest.mark.django_db

NS = {"ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"}


def amounts(xml: bytes, name: str) -> list[Decimal]:
    return [
        Decimal(node.text) for node in etree.fromstring(xml).xpath(f"//ram:{name}", namespaces=NS)
    ]


def test_the_invoice_says_what_the_review_said(account, remote_support, placed):
    put_in_cart(remote_support, 12)
    review = cart_review(account=account, at=AT)

    invoice = Invoice.objects.get(order=placed(12))

    assert invoice.net == review.quote.subtotal
    assert invoice.tax == review.quote.tax_amount
    assert invoice.gross == review.quote.total


def test_a_seat_change_support_makes_gets_its_invoice(frozen_now, remote_support):
    staff = UserFactory(email="support@example.com", is_staff=True)
    review = staff_seat_change_review(subscription=remote_support, new_seats=12, at=AT)

    order = staff_seat_change(
        subscription=remote_support,
        new_seats=12,
        staff=staff,
        reason="Customer called",
        quoted_at=AT,
        fingerprint=review.quote.fingerprint(),
    )

    invoice = Invoice.objects.get(order=order)
    assert invoice.number == "2026-000001" and invoice.gross == order.total


def a_credit_note(placed) -> Invoice:
    placed(12)
    with time_machine.travel(AT + timedelta(days=1), tick=False):
        order = placed(3, at=AT + timedelta(days=1))
    return Invoice.objects.get(order=order, kind="credit_note")


@pytest.mark.parametrize("case", ["more licenses", "fewer licenses", "credit note"])
def test_the_xml_sums_add_up_as_en_16931_requires(placed, case):
    """BR-CO-10 lines → line total, BR-CO-13 tax basis, BR-CO-15 grand total, BR-CO-16 due."""
    if case == "credit note":
        invoice = a_credit_note(placed)
    else:
        invoice = Invoice.objects.get(order=placed(12 if case == "more licenses" else 4))
    xml = invoice_xml(invoice)

    header = "SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    lines = amounts(xml, "SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount")
    [line_total] = amounts(xml, f"{header}LineTotalAmount")
    [basis] = amounts(xml, f"{header}TaxBasisTotalAmount")
    [tax] = amounts(xml, f"{header}TaxTotalAmount")
    [grand] = amounts(xml, f"{header}GrandTotalAmount")
    [prepaid] = amounts(xml, f"{header}TotalPrepaidAmount")
    [due] = amounts(xml, f"{header}DuePayableAmount")
    [category_basis] = amounts(
        xml, "ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount"
    )
    [category_tax] = amounts(
        xml, "ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount"
    )
    assert sum(lines) == line_total == basis == category_basis
    assert tax == category_tax
    assert basis + tax == grand
    assert grand - prepaid == due == 0
    assert grand == abs(invoice.gross.amount)


@pytest.mark.parametrize(
    ("total", "kind"), [("0.01", "invoice"), ("-0.01", "credit_note"), ("0.00", None)]
)
def test_an_order_that_moves_no_money_gets_no_invoice(total, kind):
    draft = SimpleNamespace(order=SimpleNamespace(total=Money(total, "EUR")))

    assert invoice_kind(draft) == kind
