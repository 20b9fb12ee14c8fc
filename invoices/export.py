"""The accountant's archive: every invoice since a date, as PDF and as XML, in one zip."""

from __future__ import annotations

import zipfile
from datetime import datetime
from typing import BinaryIO

from invoices.einvoice import invoice_xml
from invoices.pdf import invoice_pdf
from invoices.selectors import invoices_since


def invoices_export(*, since: datetime, output: BinaryIO) -> int:
    """Write ``<number>.pdf`` and ``<number>.xml`` of each invoice issued at or after
    ``since`` into a zip on ``output``; returns how many invoices."""
    count = 0
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for invoice in invoices_since(since=since).iterator(chunk_size=200):
            archive.writestr(f"{invoice.filename_stem}.pdf", invoice_pdf(invoice))
            archive.writestr(f"{invoice.filename_stem}.xml", invoice_xml(invoice))
            count += 1
    return count
