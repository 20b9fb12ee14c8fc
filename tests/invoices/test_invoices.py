"""An invoice for every order that moves money: its numbers, contents, PDF and XML."""

from __future__ import annotations

import io
from datetime import timedelta

import facturx
import pytest
import time_machine
from lxml import etree
from pypdf import PdfReader

from checkout.models import Order
from invoices.einvoice import invoice_xml
from invoices.models import Invoice, InvoiceCounter
from invoices.pdf import invoice_pdf
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, PaymentMethodFactory, SubscriptionFactory
from tests.invoices.conftest import pdf_attachments, pdf_text, pdf_xmp
from tests.shared_fixtures import AT, NOV_1, put_in_cart

pytestmark = pytest.mark.django_db

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
}


def xml_value(xml: bytes, path: str) -> list[str]:
    return [node.text for node in etree.fromstring(xml).xpath(path, namespaces=NS)]


def test_an_order_gets_an_invoice_with_the_orders_own_amounts(placed):
    order = placed(12)

    invoice = Invoice.objects.get(order=order)
    assert invoice.kind == "invoice"
    assert invoice.number == "2026-000001"
    assert (invoice.net, invoice.tax, invoice.gross) == (order.subtotal, order.tax, order.total)
    assert str(invoice.gross) == "€524.79"
    assert invoice.buyer_name == "Acme GmbH" and invoice.buyer_country == "DE"
    assert invoice.seller_vat_id == "DE136695976"


def test_the_pdf_carries_every_mandatory_field(placed):
    order = placed(12)
    invoice = Invoice.objects.get(order=order)

    text = pdf_text(invoice_pdf(invoice))

    for expected in (
        "Invoice 2026-000001",  # kind and number
        "Billing Center Demo GmbH",  # seller's name, address and VAT number
        "Musterstraße 1, 10115 Berlin",
        "VAT ID DE136695976",
        "Acme GmbH",  # buyer
        "Invoice date: Nov. 26, 2026",
        "Service period: Nov. 26, 2026 – Dec. 26, 2026",
        f"Order: {order.number}",
        "Remote Support v5",  # the line: product, licenses, unit price net, net amount
        "10 → 12",
        "€42.00 per license per month",
        "€504.00",
        "Credit for unused time",
        "−€63.00",
        "Net total at 19% VAT €441.00",  # net per rate, rate, VAT, gross
        "VAT 19% €83.79",
        "Gross total €524.79",
        "Amount paid with Visa •••• 4242",  # how much was paid and how
    ):
        assert expected in text, expected
    assert "Reverse charge" not in text


def test_the_buyer_is_the_billing_profiles_company_and_address(placed, account):
    account.legal_name = "Acme Gesellschaft mit beschränkter Haftung"
    account.address_line1 = "Friedrichstraße 123"
    account.address_line2 = "3. OG"
    account.postal_code = "10117"
    account.city = "Berlin"
    account.save()
    invoice = Invoice.objects.get(order=placed(12))

    assert invoice.buyer_name == "Acme Gesellschaft mit beschränkter Haftung"
    assert invoice.buyer_address == "Friedrichstraße 123\n3. OG\n10117 Berlin"
    text = pdf_text(invoice_pdf(invoice))
    for line in (
        "Acme Gesellschaft mit beschränkter Haftung",
        "Friedrichstraße 123",
        "10117 Berlin",
    ):
        assert line in text, line
    xml = invoice_xml(invoice)
    buyer = "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:"
    assert xml_value(xml, f"{buyer}PostcodeCode") == ["10117"]
    assert xml_value(xml, f"{buyer}LineOne") == ["Friedrichstraße 123"]
    assert xml_value(xml, f"{buyer}CityName") == ["Berlin"]
    # Issued once: a later change of the profile does not rewrite the invoice.
    account.city = "Potsdam"
    account.save()
    invoice.refresh_from_db()
    assert invoice.buyer_address.endswith("10117 Berlin")


def test_the_xml_follows_en_16931_and_is_inside_the_pdf(placed):
    order = placed(12)
    invoice = Invoice.objects.get(order=order)

    xml = invoice_xml(invoice)

    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") is True
    summation = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert xml_value(xml, f"{summation}TaxBasisTotalAmount") == ["441.00"]
    assert xml_value(xml, f"{summation}TaxTotalAmount") == ["83.79"]
    assert xml_value(xml, f"{summation}GrandTotalAmount") == ["524.79"]
    assert xml_value(xml, f"{summation}DuePayableAmount") == ["0.00"]
    assert xml_value(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert xml_value(
        xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode"
    ) == ["S"]
    assert xml_value(xml, "//ram:LineTotalAmount")[0] == "441.00"
    # The PDF is a Factur-X PDF/A-3: its XML is the same.
    pdf = invoice_pdf(invoice)
    assert pdf_attachments(pdf)["factur-x.xml"] == xml
    reader = PdfReader(io.BytesIO(pdf))
    [intent] = reader.trailer["/Root"]["/OutputIntents"]
    assert intent.get_object()["/S"] == "/GTS_PDFA1"  # the colours are sRGB, as PDF/A wants
    xmp = pdf_xmp(pdf)
    assert b"<pdfaid:part>3</pdfaid:part>" in xmp
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp


@pytest.fixture
def fromagerie(frozen_now):
    """A French business with a valid VAT number: reverse charge."""
    membership = MembershipFactory(
        account__name="Fromagerie SARL",
        account__country="FR",
        account__vat_number="FR40303265045",
        user__email="chef@fromagerie.example",
    )
    PaymentMethodFactory(account=membership.account)
    subscription = SubscriptionFactory(
        account=membership.account,
        plan__product__name="Cheese Support",
        seats=10,
        billing_anchor=NOV_1,
    )
    return membership.user, membership.account, subscription


def test_a_french_business_with_a_vat_number_gets_reverse_charge_at_0_percent(
    fromagerie, django_capture_on_commit_callbacks
):
    user, account, subscription = fromagerie
    put_in_cart(subscription, 12)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(account, user)
    invoice = Invoice.objects.get(order=order)

    assert order.tax_kind == "reverse_charge" and invoice.tax.amount == 0
    text = pdf_text(invoice_pdf(invoice))
    assert "Reverse charge: the recipient of the service is liable for the VAT" in text
    assert "VAT ID: FR40303265045" in text
    assert "VAT 0% €0.00" in text
    xml = invoice_xml(invoice)
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:"
    assert xml_value(xml, f"{tax}CategoryCode") == ["AE"]
    assert xml_value(xml, f"{tax}RateApplicablePercent") == ["0.00"]
    assert xml_value(xml, f"{tax}ExemptionReasonCode") == ["VATEX-EU-AE"]
    assert xml_value(xml, "//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == [
        "FR40303265045"
    ]


def test_a_reverse_charge_invoice_in_german(fromagerie, django_capture_on_commit_callbacks):
    user, account, subscription = fromagerie
    put_in_cart(subscription, 12)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(account, user, language="de")

    text = pdf_text(invoice_pdf(Invoice.objects.get(order=order)))

    assert "Rechnung 2026-000001" in text
    assert "Steuerschuldnerschaft des Leistungsempfängers" in text
    assert "Rechnungsdatum: 26. November 2026" in text
    assert "USt-IdNr.: FR40303265045" in text


def test_a_downgrade_that_credits_more_than_it_charges_gets_a_credit_note(placed):
    first = placed(12)  # a new month for 12 licenses from Nov 26
    next_day = AT + timedelta(days=1)
    with time_machine.travel(next_day, tick=False):
        order = placed(3, at=next_day)  # 29 days of 12 licenses credited, 3 charged

    assert order.total.amount < 0
    credit_note = Invoice.objects.get(order=order)
    assert credit_note.kind == "credit_note"
    assert credit_note.number == "GS-2026-000001"  # a series of its own
    assert credit_note.corrects == Invoice.objects.get(order=first)
    assert credit_note.gross == order.total
    text = pdf_text(invoice_pdf(credit_note))
    assert "Credit note GS-2026-000001" in text
    assert f"Corrects invoice {credit_note.corrects.number}" in text
    assert "Credit note number: GS-2026-000001" in text
    assert "Credit note date: Nov. 27, 2026" in text
    xml = invoice_xml(credit_note)
    assert xml_value(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert xml_value(xml, "//ram:GrandTotalAmount") == [f"{-order.total.amount:.2f}"]
    assert xml_value(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [
        credit_note.corrects.number
    ]


def test_numbers_follow_each_other_and_a_rolled_back_order_leaves_no_gap(placed, account):
    from django.db import transaction

    placed(11)
    with pytest.raises(RuntimeError), transaction.atomic():
        placed(12)
        assert Invoice.objects.count() == 2
        raise RuntimeError("the order's transaction fails after its invoice")
    placed(13)

    assert list(Invoice.objects.order_by("issued_at", "id").values_list("number", flat=True)) == [
        "2026-000001",
        "2026-000002",
    ]
    assert InvoiceCounter.objects.get(kind="invoice", year=2026).last_number == 2
    assert Order.objects.count() == 2
