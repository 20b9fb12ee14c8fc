"""Where invoices reach people: the confirmation email, the Invoices page, support, export."""

from __future__ import annotations

import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse

from invoices.models import Invoice
from subscriptions.models import AuditEntry
from tests.factories import MembershipFactory, UserFactory
from tests.invoices.conftest import pdf_attachments, pdf_text
from tests.ops.conftest import run
from tests.shared_fixtures import AT

pytestmark = pytest.mark.django_db


def test_the_confirmation_email_carries_the_invoice_pdf_with_the_same_amounts(placed):
    order = placed(12)
    invoice = Invoice.objects.get(order=order)

    [message] = mail.outbox
    [(filename, content, mimetype)] = message.attachments
    assert filename == f"invoice-{invoice.number}.pdf" and mimetype == "application/pdf"
    # The email, the order and the invoice say the same amounts.
    assert "VAT 19%: €83.79" in message.body
    assert f"Invoice {invoice.number} is attached as PDF" in message.body
    text = pdf_text(content)
    assert "VAT 19% €83.79" in text and "Gross total €524.79" in text
    assert f"Order: {order.number}" in text
    assert "factur-x.xml" in pdf_attachments(content)


def test_the_invoices_page_lists_the_accounts_invoices_with_downloads(client, admin, placed):
    invoice = Invoice.objects.get(order=placed(12))
    client.force_login(admin)

    page = client.get(reverse("invoices:list")).content.decode()

    assert "Invoice 2026-000001" in page and "€524.79" in page
    assert reverse("invoices:pdf", args=[invoice.number]) in page
    assert reverse("invoices:xml", args=[invoice.number]) in page
    pdf = client.get(reverse("invoices:pdf", args=[invoice.number]))
    assert pdf["Content-Type"] == "application/pdf"
    assert 'filename="invoice-2026-000001.pdf"' in pdf["Content-Disposition"]
    assert "Invoice 2026-000001" in pdf_text(pdf.content)
    xml = client.get(reverse("invoices:xml", args=[invoice.number]))
    assert xml["Content-Type"] == "application/xml" and b"<ram:ID>2026-000001</ram:ID>" in (
        xml.content
    )
    # The Orders page and the order's page link the invoice.
    pdf_link = reverse("invoices:pdf", args=[invoice.number])
    assert pdf_link in client.get(reverse("checkout:orders")).content.decode()
    assert (
        pdf_link
        in client.get(reverse("checkout:order", args=[invoice.order.number])).content.decode()
    )


def test_the_invoices_page_in_german(client, admin, placed):
    placed(12, language="de")
    admin.language = "de"
    admin.save()
    client.force_login(admin)

    page = client.get(reverse("invoices:list"), headers={"accept-language": "de"}).content.decode()

    assert "Rechnungen" in page and "Rechnung 2026-000001" in page and "524,79" in page


def test_another_accounts_invoices_are_not_found(client, placed):
    invoice = Invoice.objects.get(order=placed(12))
    other = MembershipFactory(account__name="Other GmbH", account__country="DE")
    client.force_login(other.user)

    assert "2026-000001" not in client.get(reverse("invoices:list")).content.decode()
    assert client.get(reverse("invoices:pdf", args=[invoice.number])).status_code == 404
    assert client.get(reverse("invoices:xml", args=[invoice.number])).status_code == 404


def test_a_member_who_is_no_billing_admin_is_refused(client, account, placed):
    placed(12)
    member = MembershipFactory(account=account, role="member").user
    client.force_login(member)

    assert client.get(reverse("invoices:list")).status_code == 403
    assert client.get(reverse("invoices:pdf", args=["2026-000001"])).status_code == 403


def test_export_writes_one_zip_with_the_pdf_and_xml_of_each_invoice(placed, tmp_path):
    first = Invoice.objects.get(order=placed(12))
    output = tmp_path / "invoices.zip"

    out, _ = run(
        "export_invoices", since=(AT - timedelta(days=1)).date().isoformat(), output=str(output)
    )

    assert "1 invoice(s) written" in out
    with zipfile.ZipFile(output) as archive:
        assert sorted(archive.namelist()) == [
            f"invoice-{first.number}.pdf",
            f"invoice-{first.number}.xml",
        ]
        assert "Gross total €524.79" in pdf_text(archive.read(f"invoice-{first.number}.pdf"))
    out, _ = run("export_invoices", since=(AT + timedelta(days=1)).isoformat(), output=str(output))
    assert "0 invoice(s) written" in out


def test_support_sends_an_invoice_again_with_a_reason(
    client, admin, placed, django_capture_on_commit_callbacks
):
    invoice = Invoice.objects.get(order=placed(12))
    mail.outbox.clear()
    staff = UserFactory(email="support@example.com", is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    client.force_login(staff)
    changelist = reverse("admin:invoices_invoice_changelist")
    assert "2026-000001" in client.get(changelist).content.decode()
    detail = client.get(reverse("admin:invoices_invoice_change", args=[invoice.pk]))
    assert detail.status_code == 200 and "Acme GmbH" in detail.content.decode()
    assert reverse("admin:invoices_invoice_xml", args=[invoice.pk]) in detail.content.decode()
    pdf = client.get(reverse("admin:invoices_invoice_pdf", args=[invoice.pk]))
    assert "Invoice 2026-000001" in pdf_text(pdf.content)

    post = {"action": "support_invoiceresendform", "_selected_action": [invoice.pk]}
    refused = client.post(changelist, {**post, "confirm": "1", "reason": " "})
    assert "This field is required." in refused.content.decode() and mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {**post, "confirm": "1", "reason": "Customer lost it"})

    [message] = mail.outbox
    assert message.to == ["anna@acme.example"]
    assert message.subject == "Your invoice 2026-000001"
    assert message.attachments[0][0] == "invoice-2026-000001.pdf"
    entry = AuditEntry.objects.get(action="invoice_resent")
    assert entry.reason == "Customer lost it" and entry.actor == staff


def test_the_email_in_german_has_the_german_invoice(placed):
    placed(12, language="de")

    [message] = mail.outbox
    text = pdf_text(message.attachments[0][1])
    assert "Rechnung 2026-000001" in text and "Gesamtbetrag (brutto) 524,79" in text
    assert "Die Rechnung 2026-000001 liegt als PDF bei" in message.body


def test_an_invoice_that_cannot_be_rendered_does_not_hold_the_confirmation_back(
    placed, monkeypatch, caplog
):
    def broken(invoice):
        raise ValueError("the template is broken")

    monkeypatch.setattr("invoices.receivers.invoice_pdf", broken)

    order = placed(12)

    [message] = mail.outbox
    assert message.attachments == [] and order.number in message.body
    assert "No attachment" in caplog.text and "the template is broken" in caplog.text
