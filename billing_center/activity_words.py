"""An activity entry in the customer's words, English or German.

Each stable action code (``subscriptions.activity``) has a sentence built from
the entry's ``before``/``after``; a code without one gets a generic sentence,
so a new kind of change shows up on the Activity page before it has words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from django.utils import formats
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from moneyed import Money

from subscriptions.models import AuditEntry
from subscriptions.templatetags.billing import money_text

PRODUCT_IN_TARGET = re.compile(r"^subscription (\d+) \((.*)\)$")
SUBSCRIPTION_IN_TARGET = re.compile(r"^subscription (\d+)$")


def subscription_ids_without_product(entries: list[AuditEntry]) -> set[int]:
    """Entries that name a subscription by id only (older ones, the trial expiry)."""
    return {
        int(match.group(1))
        for entry in entries
        if (match := SUBSCRIPTION_IN_TARGET.match(entry.target))
    }


def entry_product(entry: AuditEntry, products: dict[int, str]) -> str:
    if match := PRODUCT_IN_TARGET.match(entry.target):
        return match.group(2)
    if match := SUBSCRIPTION_IN_TARGET.match(entry.target):
        return products.get(int(match.group(1)), "")
    return entry.after.get("product", "")


class Wording:
    """What one page's sentences need besides the entry: the time zone, the currency
    and the product names of entries that name only a subscription's id."""

    def __init__(self, *, tz: tzinfo, currency: str, products: dict[int, str]) -> None:
        self.tz, self.currency, self.products = tz, currency, products

    def date(self, value) -> str:
        moment = parse_datetime(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):
            return ""
        return formats.date_format(moment.astimezone(self.tz), "DATE_FORMAT")

    def amount(self, value, currency: str | None = None) -> str:
        try:
            return money_text(Money(Decimal(str(value)), currency or self.currency))
        except (InvalidOperation, ValueError, TypeError):
            return str(value)

    def sentence(self, entry: AuditEntry) -> str:
        words = SENTENCES.get(entry.action)
        params = {"product": entry_product(entry, self.products) or _("a subscription")}
        if words is None:
            return _("Changed %(target)s.") % {"target": entry.target or _("the account")}
        try:
            return words(self, entry, params)
        except (KeyError, TypeError, ValueError):
            return _("Changed %(target)s.") % {"target": entry.target or _("the account")}


def _seat_change(w: Wording, entry: AuditEntry, p: dict) -> str:
    seats = int(entry.after["seats"])
    if entry.before.get("status") in ("trial", "expired", "canceled"):
        return ngettext(
            "Subscribed to %(product)s with %(count)d license.",
            "Subscribed to %(product)s with %(count)d licenses.",
            seats,
        ) % {**p, "count": seats}
    return ngettext(
        "Changed %(product)s from %(before)d to %(count)d license.",
        "Changed %(product)s from %(before)d to %(count)d licenses.",
        seats,
    ) % {**p, "before": int(entry.before["seats"]), "count": seats}


def _card(method: dict) -> str:
    return f"{method['brand']} •••• {method['last4']}"


def _card_added(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Added the card %(card)s.") % {"card": _card(entry.after)}


def _card_replaced(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Replaced the card %(before)s with %(after)s.") % {
        "before": _card(entry.before),
        "after": _card(entry.after),
    }


def _card_from_checkout(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Paid order %(order)s with the card %(card)s, now the card on file.") % {
        "order": entry.after["order"],
        "card": _card(entry.after),
    }


def _vat_number(w: Wording, entry: AuditEntry, p: dict) -> str:
    before, after = entry.before.get("vat_number", ""), entry.after.get("vat_number", "")
    if not after:
        return _("Removed the VAT number %(before)s.") % {"before": before}
    if not before:
        return _("Added the VAT number %(after)s.") % {"after": after}
    return _("Changed the VAT number from %(before)s to %(after)s.") % {
        "before": before,
        "after": after,
    }


def _canceled(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Canceled %(product)s at the end of its period: it ends on %(date)s.") % {
        **p,
        "date": w.date(entry.after["ends"]),
    }


def _kept(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Kept %(product)s: the cancellation was taken back.") % p


def _ended(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("%(product)s ended at the end of its period.") % p


def _renewed(w: Wording, entry: AuditEntry, p: dict) -> str:
    date = w.date(entry.after["period_end"])
    if not Decimal(str(entry.after["amount"])):
        return _("Renewed %(product)s until %(date)s, paid with the account's credit.") % {
            **p,
            "date": date,
        }
    return _("Renewed %(product)s until %(date)s for %(amount)s.") % {
        **p,
        "date": date,
        "amount": w.amount(entry.after["amount"], entry.after.get("currency")),
    }


def _payment_failed(w: Wording, entry: AuditEntry, p: dict) -> str:
    text = _("The renewal payment of %(amount)s for %(product)s failed.") % {
        **p,
        "amount": w.amount(entry.after["amount"], entry.after.get("currency")),
    }
    if entry.after.get("next_attempt"):
        text += " " + _("It is tried again on %(date)s.") % {
            "date": w.date(entry.after["next_attempt"])
        }
    return text


def _suspended(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("%(product)s was suspended: the renewal payment failed again.") % p


def _trial_expired(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("The free trial of %(product)s ended.") % p


def _trial_extended(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Extended the free trial of %(product)s until %(date)s.") % {
        **p,
        "date": w.date(entry.after["trial_end"]),
    }


def _credit(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Changed the credit balance from %(before)s to %(after)s.") % {
        "before": w.amount(entry.before["balance"]),
        "after": w.amount(entry.after["balance"]),
    }


def _billing_channel(w: Wording, entry: AuditEntry, p: dict) -> str:
    if entry.after["billing_channel"] == "corporate":
        return _("Moved the account's billing to its corporate billing channel.")
    return _("Moved the account's billing to the Billing Center.")


def _email_resent(w: Wording, entry: AuditEntry, p: dict) -> str:
    order = entry.target.removeprefix("order ")
    return _("Sent the confirmation of order %(order)s again.") % {"order": order}


def _invited_email(entry: AuditEntry) -> str:
    """``invitation 12 (someone@example.com)`` → the address."""
    return entry.after.get("email") or entry.target.partition("(")[2].rstrip(")")


def _role(value: str) -> str:
    return _("billing admin") if value == "billing_admin" else _("member")


def _user_in_target(entry: AuditEntry) -> str:
    return entry.target.removeprefix("user ")


def _license_assigned(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Gave %(user)s a license of %(product)s.") % {**p, "user": entry.after["user"]}


def _license_unassigned(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Took the license of %(product)s from %(user)s.") % {
        **p,
        "user": entry.after["user"],
    }


def _member_invited(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Invited %(email)s as %(role)s.") % {
        "email": _invited_email(entry),
        "role": _role(entry.after["role"]),
    }


def _invitation_resent(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Sent the invitation to %(email)s again.") % {"email": _invited_email(entry)}


def _invitation_revoked(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Revoked the invitation to %(email)s.") % {"email": _invited_email(entry)}


def _member_joined(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("%(email)s accepted the invitation and joined as %(role)s.") % {
        "email": entry.after["email"],
        "role": _role(entry.after["role"]),
    }


def _member_role_changed(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Made %(user)s a %(role)s.") % {
        "user": _user_in_target(entry),
        "role": _role(entry.after["role"]),
    }


def _member_removed(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Removed %(user)s from the account.") % {"user": _user_in_target(entry)}


def _billing_address(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Changed the billing address.")


def _invoice_recipients(w: Wording, entry: AuditEntry, p: dict) -> str:
    recipients = entry.after.get("invoice_recipients") or []
    if not recipients:
        return _("Invoice emails now go to the billing admins only.")
    return _("Invoice emails now also go to %(recipients)s.") % {
        "recipients": ", ".join(recipients)
    }


def _renewal_paid_now(w: Wording, entry: AuditEntry, p: dict) -> str:
    return _("Paid the overdue renewal of %(product)s: %(amount)s (order %(order)s).") % {
        **p,
        "amount": w.amount(entry.after["amount"], entry.after.get("currency")),
        "order": entry.after["order"],
    }


SENTENCES: dict[str, Callable[[Wording, AuditEntry, dict], str]] = {
    "seat_change": _seat_change,
    "card_added": _card_added,
    "card_replaced": _card_replaced,
    "card_from_checkout": _card_from_checkout,
    "vat_number_changed": _vat_number,
    "cancel_at_period_end": _canceled,
    "reactivated": _kept,
    "subscription_ended": _ended,
    "renewed": _renewed,
    "renewal_payment_failed": _payment_failed,
    "suspended": _suspended,
    "trial_expired": _trial_expired,
    "trial_extended": _trial_extended,
    "credit_adjustment": _credit,
    "billing_channel": _billing_channel,
    "email_resent": _email_resent,
    "license_assigned": _license_assigned,
    "license_unassigned": _license_unassigned,
    "member_invited": _member_invited,
    "invitation_resent": _invitation_resent,
    "invitation_revoked": _invitation_revoked,
    "member_joined": _member_joined,
    "member_role_changed": _member_role_changed,
    "member_removed": _member_removed,
    "billing_address_changed": _billing_address,
    "invoice_recipients_changed": _invoice_recipients,
    "renewal_paid_now": _renewal_paid_now,
}


def who(entry: AuditEntry) -> str:
    """Who did it, as the page says it: the billing admin by name (or email), support,
    operations, or the portal on its own."""
    if entry.channel == AuditEntry.Channel.PORTAL and entry.actor is not None:
        return _("By %(name)s") % {"name": entry.actor.full_name or entry.actor.email}
    if entry.channel == AuditEntry.Channel.ADMIN:
        return _("By our support team")
    if entry.channel == AuditEntry.Channel.OPERATIONS:
        return _("By our operations team")
    return _("Automatically")
