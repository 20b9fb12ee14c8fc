"""What the renewal run did is in the account's activity (Channel.SYSTEM), in words."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from subscriptions.activity import Channel
from subscriptions.models import AuditEntry
from tests.renewals.conftest import DEC_1, decline_cards, renew, subscribe

pytestmark = pytest.mark.django_db


def test_a_declined_renewal_then_the_suspension_are_listed(client, acme):
    subscribe(acme, plan__product__name="Remote Support v5")
    decline_cards(acme)
    for day in (0, 1, 3, 7):
        renew(DEC_1 + timedelta(days=day))
    entries = AuditEntry.objects.order_by("at", "id")
    assert list(entries.values_list("action", "channel")) == [
        ("renewal_payment_failed", Channel.SYSTEM),
        ("renewal_payment_failed", Channel.SYSTEM),
        ("renewal_payment_failed", Channel.SYSTEM),
        ("suspended", Channel.SYSTEM),
    ]
    assert entries.first().after["reason"] == "card_declined"

    client.force_login(acme.memberships.get().user)
    page = client.get(reverse("billing_center:activity")).content.decode()
    assert "Remote Support v5 was suspended: the renewal payment failed again." in page
    # €420.00 + 19 % VAT; the first retry a day after the first failure.
    assert (
        "The renewal payment of €499.80 for Remote Support v5 failed. "
        "It is tried again on Dec. 2, 2026." in page
    )
    assert "Automatically" in page


def test_a_paid_renewal_is_listed(client, acme):
    subscribe(acme, plan__product__name="Remote Support v5")
    renew(DEC_1)
    client.force_login(acme.memberships.get().user)
    page = client.get(reverse("billing_center:activity")).content.decode()
    assert "Renewed Remote Support v5 until Jan. 1, 2027 for €499.80." in page
