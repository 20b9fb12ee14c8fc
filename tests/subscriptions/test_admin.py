"""Support staff in the Django admin: what they reach, what they can do, what it leaves behind."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import escape

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.urls import reverse
from moneyed import Money

from checkout.models import Order
from subscriptions.credit import credit_balance
from subscriptions.models import AuditEntry, CreditLedgerEntry, SeatChange, Subscription
from tests.checkout.helpers import place
from tests.factories import MembershipFactory, SubscriptionFactory, UserFactory
from tests.shared_fixtures import AT, put_in_cart

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(client):
    user = UserFactory(email="support@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    client.force_login(user)
    return user


def run_action(client, model: str, action: str, obj, **data):
    url = reverse(f"admin:{model}_changelist")
    return client.post(url, {"action": action, "_selected_action": [obj.pk], **data}, follow=True)


def action_name(client, model: str, label: str) -> str:
    page = client.get(reverse(f"admin:{model}_changelist")).content.decode()
    match = re.search(rf'<option value="([a-z_]+)">{re.escape(escape(label))}</option>', page)
    assert match, f"no action {label!r} for {model}"
    return match.group(1)


def test_support_finds_an_account_by_a_members_email_and_sees_its_history(
    client, support, account, remote_support
):
    response = client.get(reverse("admin:subscriptions_account_changelist"), {"q": "anna@acme"})
    assert response.status_code == 200
    assert "Acme GmbH" in response.content.decode()
    page = client.get(reverse("admin:subscriptions_account_change", args=[account.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    for shown in ("Remote Support v5", "anna@acme.example", "Credit balance", "Seat changes"):
        assert shown in body, shown


def test_support_can_search_orders_and_filter_accounts(
    frozen_now, client, support, admin, account, remote_support
):
    put_in_cart(remote_support, 7)
    order = place(account, admin)
    found = client.get(reverse("admin:subscriptions_account_changelist"), {"q": order.number})
    assert "Acme GmbH" in found.content.decode()
    Subscription.objects.filter(pk=remote_support.pk).update(status="past_due")
    past_due = client.get(reverse("admin:subscriptions_account_changelist"), {"past_due": "yes"})
    assert "Acme GmbH" in past_due.content.decode()
    other = MembershipFactory(account__name="Trial AG").account
    SubscriptionFactory(
        account=other, status="trial", trial_end=AT + timedelta(days=3), plan__product__name="X"
    )
    soon = client.get(reverse("admin:subscriptions_account_changelist"), {"trial_ending": "7"})
    assert "Trial AG" in soon.content.decode() and "Acme GmbH" not in soon.content.decode()


def test_support_cannot_edit_users_tax_rates_or_plans(client, support, remote_support):
    from subscriptions.models import TaxRate

    rate = TaxRate.objects.get(country="DE")
    assert (
        client.post(
            reverse("admin:subscriptions_taxrate_change", args=[rate.pk]),
            {"country": "DE", "rate": "1"},
        ).status_code
        == 403
    )
    rate.refresh_from_db()
    assert rate.rate == 19
    assert client.get(reverse("admin:subscriptions_plan_add")).status_code == 403
    assert (
        client.get(reverse("admin:auth_user_password_change", args=[support.pk])).status_code == 403
    )
    assert client.get(reverse("admin:auth_group_changelist")).status_code == 403
    assert not support.is_superuser


def test_the_order_page_shows_its_whole_calculation(
    frozen_now, client, support, admin, account, remote_support
):
    put_in_cart(remote_support, 7)
    order = place(account, admin)
    body = client.get(reverse("admin:checkout_order_change", args=[order.pk])).content.decode()
    assert "unused 4 days, 12:00:00 of 30 days, 0:00:00 = 0.150000" in body
    assert "credit = 10 × €42.00 × 0.150000 = €63.00" in body
    assert "charge = 7 × €42.00 = €294.00" in body
    assert "VAT 19.00 % = €43.89" in body and "charged €274.89" in body


def test_support_changes_seats_after_a_preview_and_it_is_audited(
    frozen_now, client, support, account, remote_support, django_capture_on_commit_callbacks
):
    action = action_name(
        client, "subscriptions_subscription", "Change seats on the customer's behalf"
    )
    refused = run_action(
        client, "subscriptions_subscription", action, remote_support,
        seats="2", reason="customer called", preview="1",
    )  # fmt: skip
    assert "3 licenses are assigned to users" in refused.content.decode()
    preview = run_action(
        client, "subscriptions_subscription", action, remote_support,
        seats="7", reason="customer called", preview="1",
    )  # fmt: skip
    body = preview.content.decode()
    assert "10 → 7" in body and "€274.89" in body
    token = re.search(r'name="preview_token" value="([^"]+)"', body).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        done = run_action(
            client, "subscriptions_subscription", action, remote_support,
            seats="7", reason="customer called", preview_token=token, confirm="1",
        )  # fmt: skip
    assert "Seats changed by order" in done.content.decode()
    remote_support.refresh_from_db()
    assert remote_support.seats == 7
    change = SeatChange.objects.get()
    assert (change.channel, change.changed_by) == ("admin", support)
    order = Order.objects.get()
    assert order.amount_due == Money("274.89", "EUR") and order.placed_by == support
    entry = AuditEntry.objects.get(action="seat_change")
    assert (entry.actor, entry.reason, entry.before["seats"], entry.after["seats"]) == (
        support,
        "customer called",
        10,
        7,
    )
    assert mail.outbox[0].to == ["anna@acme.example"]  # the customer, not the support user


def test_a_credit_needs_a_reason_and_is_audited(client, support, account):
    action = action_name(client, "subscriptions_account", "Add a credit or a charge correction")
    missing = run_action(
        client, "subscriptions_account", action, account, kind="goodwill", amount="25", confirm="1"
    )
    assert "This field is required" in missing.content.decode()
    assert not CreditLedgerEntry.objects.exists()
    run_action(
        client, "subscriptions_account", action, account,
        kind="goodwill", amount="25.00", reason="outage on 2026-11-20", confirm="1",
    )  # fmt: skip
    assert credit_balance(account) == Money("25.00", "EUR")
    entry = AuditEntry.objects.get(action="credit_adjustment")
    assert (entry.before["balance"], entry.after["balance"]) == ("0.00", "25.00")
    too_much = run_action(
        client, "subscriptions_account", action, account,
        kind="correction", amount="-30", reason="mistake", confirm="1",
    )  # fmt: skip
    assert "cannot be taken" in too_much.content.decode()
    assert credit_balance(account) == Money("25.00", "EUR")


def test_resend_the_confirmation_email(
    frozen_now, client, support, admin, account, remote_support, django_capture_on_commit_callbacks
):
    put_in_cart(remote_support, 7)
    with django_capture_on_commit_callbacks(execute=True):
        order = place(account, admin)
    action = action_name(client, "checkout_order", "Resend the confirmation email")
    with django_capture_on_commit_callbacks(execute=True):
        run_action(client, "checkout_order", action, order, reason="lost in spam", confirm="1")
    assert len(mail.outbox) == 2 and order.number in mail.outbox[1].subject
    assert AuditEntry.objects.get(action="email_resent").reason == "lost in spam"


def test_trial_extension_cancel_reactivate_and_channel(client, support, account, remote_support):
    trial = SubscriptionFactory(
        account=account, status="expired", seats=0, trial_end=datetime(2026, 11, 1, tzinfo=UTC)
    )
    extend = action_name(client, "subscriptions_subscription", "Extend the trial")
    run_action(
        client, "subscriptions_subscription", extend, trial, days="14", reason="sales", confirm="1"
    )
    trial.refresh_from_db()
    assert trial.status == "trial" and trial.trial_end > datetime(2026, 11, 14, tzinfo=UTC)
    cancel = action_name(client, "subscriptions_subscription", "Cancel at the end of the period")
    run_action(
        client, "subscriptions_subscription", cancel, remote_support, reason="asked", confirm="1"
    )
    remote_support.refresh_from_db()
    assert remote_support.cancel_at_period_end
    again = run_action(
        client, "subscriptions_subscription", cancel, remote_support, reason="again", confirm="1"
    )
    assert "already pending cancellation" in again.content.decode()
    undo = action_name(
        client, "subscriptions_subscription", "Reactivate (undo a pending cancellation)"
    )
    run_action(
        client,
        "subscriptions_subscription",
        undo,
        remote_support,
        reason="changed mind",
        confirm="1",
    )
    remote_support.refresh_from_db()
    assert not remote_support.cancel_at_period_end
    switch = action_name(
        client, "subscriptions_account", "Switch between self-service and corporate billing"
    )
    run_action(
        client,
        "subscriptions_account",
        switch,
        account,
        channel="corporate",
        reason="grew",
        confirm="1",
    )
    account.refresh_from_db()
    assert account.billing_channel == "corporate"
    assert list(AuditEntry.objects.order_by("at", "id").values_list("action", flat=True)) == [
        "trial_extended",
        "cancel_at_period_end",
        "reactivated",
        "billing_channel",
    ]


def test_a_staff_user_without_the_support_group_gets_no_actions(client, account):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:subscriptions_account_changelist")).status_code == 403


def test_the_superuser_reaches_everything(client, account):
    boss = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(boss)
    for name in (
        "subscriptions_taxrate_changelist",
        "subscriptions_plan_add",
        "auth_group_changelist",
    ):
        assert client.get(reverse(f"admin:{name}")).status_code == 200
