"""Support sees the same trail in the admin: the channel as a column and a filter."""

from __future__ import annotations

import pytest
from django.urls import reverse

from subscriptions.activity import Channel, activity_record

pytestmark = pytest.mark.django_db


def test_support_filters_the_trail_by_channel(client, support, account, admin):
    activity_record(
        account=account, actor=admin, channel=Channel.PORTAL, action="card_added", target="card 1"
    )
    activity_record(
        account=account,
        actor=support,
        channel=Channel.ADMIN,
        action="billing_channel",
        target="Acme GmbH",
        reason="grew",
    )
    url = reverse("admin:subscriptions_auditentry_changelist")
    everything = client.get(url).content.decode()
    assert "card_added" in everything and "billing_channel" in everything
    assert '<td class="field-channel">Billing Center</td>' in everything
    assert '<td class="field-channel">Support</td>' in everything
    portal = client.get(url, {"channel__exact": "portal"}).content.decode()
    assert portal.count('<td class="field-channel">') == 1
    assert '<td class="field-target">card 1</td>' in portal
    assert '<td class="field-target">Acme GmbH</td>' not in portal
