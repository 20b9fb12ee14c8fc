"""Invoices tests: orders placed as the portal places them (tests/checkout/helpers.py)."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.checkout.helpers import place
from tests.shared_fixtures import put_in_cart


def pdf_text(content: bytes) -> str:
    """The PDF's text, lines joined by spaces' worth of whitespace collapsed."""
    reader = PdfReader(io.BytesIO(content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def pdf_attachments(content: bytes) -> dict[str, bytes]:
    reader = PdfReader(io.BytesIO(content))
    return {name: data[0] for name, data in reader.attachments.items()}


@pytest.fixture
def placed(frozen_now, admin, account, remote_support, django_capture_on_commit_callbacks):
    """Acme (DE) goes from 10 to 12 licenses: an invoice with 19 % VAT."""

    def _place(seats: int = 12, **kwargs):
        put_in_cart(remote_support, seats)
        with django_capture_on_commit_callbacks(execute=True):
            return place(account, admin, **kwargs)

    return _place


def pdf_xmp(content: bytes) -> bytes:
    """The PDF's XMP metadata, where PDF/A and Factur-X declare themselves."""
    reader = PdfReader(io.BytesIO(content))
    return reader.trailer["/Root"]["/Metadata"].get_object().get_data()
