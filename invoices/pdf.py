"""The invoice PDF: an HTML template in the invoice's language, laid out by fpdf2 (pure
Python, nothing from the system), with the Factur-X XML embedded as PDF/A-3.

Its fonts (DejaVu Sans, subset to Latin, invoices/fonts/) are embedded, as PDF/A wants.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import facturx
import fpdf
from django.template.loader import render_to_string
from django.utils import timezone, translation
from fpdf import FPDF, FontFace
from fpdf.enums import OutputIntentSubType
from fpdf.output import PDFICCProfile

from invoices.documents import InvoiceDocument, invoice_document
from invoices.einvoice import invoice_xml
from invoices.models import Invoice

# fontTools (subsetting the fonts) and factur-x log each step at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)
logging.getLogger("factur-x").setLevel(logging.WARNING)

FONTS = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVu"
# PDF/A names the colour space its colours mean: sRGB, from the profile fpdf2 ships.
SRGB_PROFILE = Path(fpdf.__file__).resolve().parent / "data" / "color_profiles" / "sRGB2014.icc"


def invoice_html(doc: InvoiceDocument) -> str:
    invoice = doc.invoice
    buyer_lines = [
        line for line in [*doc.invoice.buyer_address.splitlines(), invoice.buyer_country] if line
    ]
    for line in doc.lines:
        # The last day of the line's period (it ends when the next one starts).
        line.last_day = line.new_period_end - timedelta(microseconds=1)
    context = {
        "doc": doc,
        "invoice": invoice,
        "order": doc.order,
        "lines": doc.lines,
        "buyer_lines": [*buyer_lines, "", "", ""][:3],
        "seller_address_line": ", ".join(invoice.seller_address.splitlines()),
    }
    # Dates of the lines as the account's order page shows them.
    with translation.override(invoice.language), timezone.override(doc.account_time_zone):
        return render_to_string("invoices/invoice_pdf.html", context)


def _pdf(html: str, *, title: str, language: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font(FONT, "", str(FONTS / "DejaVuSans.ttf"))
    pdf.add_font(FONT, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
    pdf.set_title(title)
    pdf.set_lang(language)
    pdf.set_creator("Billing Center")
    pdf.add_output_intent(
        OutputIntentSubType.PDFA,
        output_condition_identifier="sRGB",
        output_condition="IEC 61966-2-1:1999",
        registry_name="http://www.color.org",
        dest_output_profile=PDFICCProfile(
            contents=SRGB_PROFILE.read_bytes(), n=3, alternate="DeviceRGB"
        ),
        info="sRGB2014 (v2)",
    )
    pdf.add_page()
    pdf.set_font(FONT, size=10)
    pdf.write_html(
        html,
        font_family=FONT,
        tag_styles={"h1": FontFace(family=FONT, emphasis="BOLD", color=(0, 0, 0), size_pt=18)},
    )
    return bytes(pdf.output())


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as PDF/A-3 with its Factur-X XML (``factur-x.xml``) embedded."""
    doc = invoice_document(invoice)
    xml = invoice_xml(invoice, doc=doc)
    with translation.override(invoice.language):
        title = str(invoice)
    pdf = _pdf(invoice_html(doc), title=title, language=invoice.language)
    return facturx.generate_from_binary(
        pdf,
        xml,
        flavor="factur-x",
        level="en16931",
        check_xsd=False,  # invoice_xml checked it
        pdf_metadata={
            "author": invoice.seller_name,
            "keywords": "Factur-X, ZUGFeRD",
            "title": title,
            "subject": title,
        },
        lang=invoice.language,
    )
