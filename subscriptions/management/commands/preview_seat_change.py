"""Show the quote a billing admin would see for a seat change, and write nothing.

The numbers come from ``subscription_seat_change_quote``, the same selector the
Billing Center, the cart and Place order use, so support can read a customer
the exact figures of their review page (docs/billing-rules.md).
"""

from __future__ import annotations

import json

from django.core.management.base import CommandError, CommandParser

from subscriptions import clock
from subscriptions.management.cli import (
    OperationsCommand,
    decimal_text,
    iso_utc,
    parse_instant,
    parse_whole_number,
    plain,
    rate_text,
)
from subscriptions.models import Subscription
from subscriptions.proration import QUOTE_AMOUNTS, QuoteError, SeatChangeQuote
from subscriptions.selectors import (
    account_tax_treatment,
    subscription_assigned_seats,
    subscription_seat_change_quote,
)


def preview_as_dict(
    *, subscription: Subscription, quote: SeatChangeQuote, tax_kind: str, assigned_seats: int
) -> dict:
    """The quote's inputs and every field of the contract; amounts as decimal strings."""
    preview = {
        "subscription_id": subscription.pk,
        "account": subscription.account.name,
        "product": subscription.plan.product.name,
        "status": subscription.status,
        "interval": quote.interval,
        "at": iso_utc(quote.at),
        "current_seats": quote.current_seats,
        "assigned_seats": assigned_seats,
        "new_seats": quote.new_seats,
        "current_period_start": iso_utc(quote.period_start),
        "current_period_end": iso_utc(quote.period_end),
        "unused_fraction": str(quote.unused_fraction),
        "unit_price": decimal_text(quote.unit_price),
        "currency": quote.currency,
        "tax_kind": tax_kind,
        "tax_rate": rate_text(quote.tax_rate),
        "account_credit": decimal_text(quote.account_credit),
    }
    for name in QUOTE_AMOUNTS:
        preview[name] = decimal_text(getattr(quote, name))
    preview["new_period_start"] = iso_utc(quote.new_period_start)
    preview["new_period_end"] = iso_utc(quote.new_period_end)
    return preview


class Command(OperationsCommand):
    help = (
        "Show the quote a billing admin would see for changing a subscription to --seats "
        "licenses at --at (default: now): its inputs and every amount of the quote contract "
        "(docs/billing-rules.md). A change the rules refuse (below the assigned seats, above "
        "the plan maximum, no change, a corporate account, ...) exits non-zero with the reason. "
        "Writes nothing. With --json: one JSON object on stdout, the summary on stderr."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subscription_id", metavar="SUBSCRIPTION_ID")
        parser.add_argument(
            "--seats", required=True, metavar="N", help="The new number of licenses."
        )
        parser.add_argument(
            "--at",
            metavar="ISO",
            help="The instant of the change, ISO 8601 (UTC unless it carries an offset; "
            "default: now). It must lie in the current period.",
        )
        parser.add_argument("--json", action="store_true", help="One JSON object on stdout.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Accepted for uniformity with the other commands: a preview never writes.",
        )

    def handle(self, *args, **options) -> None:
        subscription_id = parse_whole_number(options["subscription_id"], option="SUBSCRIPTION_ID")
        new_seats = parse_whole_number(options["seats"], option="--seats")
        at = (
            parse_instant(options["at"], option="--at")
            if options["at"] is not None
            else clock.now()
        )
        subscription = (
            Subscription.objects.select_related("account", "plan__product")
            .filter(pk=subscription_id)
            .first()
        )
        if subscription is None:
            raise CommandError(f"No subscription has the id {subscription_id}.")
        try:
            quote = subscription_seat_change_quote(
                subscription=subscription, new_seats=new_seats, at=at
            )
            tax_kind = account_tax_treatment(account=subscription.account).kind
        except ValueError as error:
            # The rules' refusals (QuoteError), a missing VAT rate, a ledger in another
            # currency: each says what is wrong.
            code = f" ({error.code})" if isinstance(error, QuoteError) and error.code else ""
            raise CommandError(
                f"Subscription {subscription.pk} cannot be changed to {new_seats} licenses at "
                f"{iso_utc(at)}{code}: {error}"
            ) from None
        preview = preview_as_dict(
            subscription=subscription,
            quote=quote,
            tax_kind=tax_kind,
            assigned_seats=subscription_assigned_seats(subscription=subscription),
        )
        summary = (
            f"preview_seat_change: subscription {subscription.pk}, {quote.current_seats} → "
            f"{quote.new_seats} licenses at {preview['at']}: total {preview['total']} "
            f"{quote.currency}, amount due {preview['amount_due']} {quote.currency}; "
            "nothing written."
        )
        if options["json"]:
            self.stdout.write(json.dumps(preview, ensure_ascii=False, indent=2))
            self.stderr.write(summary, style_func=plain)
            return
        self.write_table(subscription, quote, preview)
        self.stdout.write(self.style.SUCCESS(summary))

    def write_table(self, subscription: Subscription, quote: SeatChangeQuote, preview: dict):
        currency = preview["currency"]

        def money(name: str) -> str:
            return f"{preview[name]} {currency}"

        rows = [
            ("at", preview["at"], ""),
            (
                "current_seats",
                preview["current_seats"],
                f"{preview['assigned_seats']} assigned to users",
            ),
            ("new_seats", preview["new_seats"], ""),
            ("current_period_start", preview["current_period_start"], ""),
            ("current_period_end", preview["current_period_end"], ""),
            ("unit_price", money("unit_price"), f"one license for one {preview['interval']}"),
            ("currency", currency, ""),
            ("tax_rate", f"{preview['tax_rate']} %", preview["tax_kind"].replace("_", " ")),
            ("account_credit", money("account_credit"), "balance before this change"),
            (
                "credit",
                money("credit"),
                f"{quote.current_seats} × {preview['unit_price']} × "
                f"{preview['unused_fraction']} of the period unused"
                if quote.current_seats
                else "a purchase from 0 licenses: nothing to credit",
            ),
            ("charge", money("charge"), f"{quote.new_seats} × {preview['unit_price']}"),
            ("subtotal", money("subtotal"), "charge − credit"),
            ("tax", money("tax"), f"{preview['tax_rate']} % of the subtotal"),
            ("total", money("total"), "subtotal + tax"),
            ("credit_applied", money("credit_applied"), "paid from the account credit"),
            ("amount_due", money("amount_due"), "charged to the payment method"),
            ("credit_added", money("credit_added"), "added to the account credit"),
            ("new_period_start", preview["new_period_start"], ""),
            ("new_period_end", preview["new_period_end"], "the next billing date"),
        ]
        self.stdout.write(
            f"Seat change for subscription {subscription.pk}: {preview['account']}, "
            f"{preview['product']} ({preview['interval']}ly, {preview['status']})"
        )
        for name, value, note in rows:
            line = f"  {name:<22} {value!s:>27}"
            self.stdout.write(f"{line}   {note}" if note else line)
