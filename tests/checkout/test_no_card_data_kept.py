"""A card number or CVC typed into the sandbox form reaches no table, log line or email."""

from __future__ import annotations

import logging
import re

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from payments.models import PaymentMethod
from tests.checkout.conftest import put_in_cart

pytestmark = pytest.mark.django_db

NUMBER = "4242424242424242"
CVC = "987"


def every_text_value() -> str:
    """All text of all tables of the portal, as the database holds it."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            if table == "django_session":  # signed, encoded session data, not card data
                continue
            cursor.execute(f'SELECT * FROM "{table}"')
            values.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(values)


def test_the_card_number_and_cvc_are_nowhere(
    frozen_now, client, admin, account, remote_support, caplog, django_capture_on_commit_callbacks
):
    PaymentMethod.objects.filter(account=account).delete()
    put_in_cart(remote_support, 7)
    client.force_login(admin)
    caplog.set_level(logging.DEBUG)
    page = client.get(reverse("checkout:review")).content.decode()
    token = re.search(r'name="review" value="([^"]+)"', page).group(1)
    # A typo first (the form comes back), then the real card.
    again = client.post(
        reverse("checkout:place"),
        {"review": token, "card_number": "4242 4242 4242 4242", "expiry": "13/99", "cvc": CVC},
    )
    assert again.status_code == 400
    shown = again.content.decode()
    for field in ("card_number", "cvc"):  # shown again, but empty
        tag = re.search(rf'<input[^>]*name="{field}"[^>]*>', shown).group(0)
        assert 'value="' not in tag or 'value=""' in tag, tag
    token = re.search(r'name="review" value="([^"]+)"', again.content.decode()).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post(
            reverse("checkout:place"),
            {"review": token, "card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": CVC},
        )
    assert placed.status_code == 302
    assert PaymentMethod.objects.get(account=account).last4 == "4242"

    stored = every_text_value()
    assert NUMBER not in stored.replace(" ", "")
    assert not re.search(rf"\b{CVC}\b", stored)
    logged = caplog.text
    assert NUMBER not in logged.replace(" ", "") and not re.search(rf"\b{CVC}\b", logged)
    sent = "\n".join(m.body + "".join(a[0] for a in m.alternatives) for m in mail.outbox)
    assert mail.outbox and NUMBER not in sent.replace(" ", "")
    assert not re.search(rf"\b{CVC}\b", sent)
