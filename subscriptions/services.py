"""Writes. Views, admin actions, commands and tasks all call these."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from moneyed import Money

from subscriptions import clock
from subscriptions.activity import Channel, activity_record
from subscriptions.cancellation import (  # its own module; importable from here too
    subscription_cancel_at_period_end as subscription_cancel_at_period_end,
)
from subscriptions.credit import credit_balance
from subscriptions.eu_vat_rates import EU_STANDARD_VAT_RATES
from subscriptions.models import (
    Account,
    CreditLedgerEntry,
    Membership,
    SeatAssignment,
    Subscription,
    TaxRate,
    User,
)
from subscriptions.money import minor_unit_places
from subscriptions.templatetags.billing import money_text
from subscriptions.vat import InvalidVatNumber, normalize_vat_number


def account_set_vat_number(
    *,
    account: Account,
    vat_number: str,
    actor: User | None = None,
    channel: str | None = None,
    reason: str = "",
) -> Account:
    """Store a checked VAT number in compact form, or clear it with an empty string.

    An invalid number raises ``ValidationError`` and nothing is saved. With a
    ``channel`` the change writes an activity entry in the same transaction
    (none when the number stays the same).
    """
    compact = ""
    if vat_number.strip():
        try:
            compact = normalize_vat_number(vat_number, account.country)
        except InvalidVatNumber as error:
            raise ValidationError({"vat_number": str(error)}) from None
    with transaction.atomic():
        before = account.vat_number
        account.vat_number = compact
        account.save(update_fields=["vat_number"])
        if channel is not None and before != compact:
            activity_record(
                account=account,
                actor=actor,
                channel=channel,
                action="vat_number_changed",
                target=str(account),
                before={"vat_number": before},
                after={"vat_number": compact},
                reason=reason,
            )
    return account


def credit_ledger_add(
    *,
    account: Account,
    amount: Money,
    reason: str,
    reference: str = "",
    note: str = "",
    created_by: User | None = None,
) -> CreditLedgerEntry:
    """Append one movement to the account's credit balance.

    The balance may never go below zero: a debit larger than the balance is
    refused. The account row is locked so two debits cannot both pass.
    """
    if amount.currency.code != account.currency:
        raise ValidationError(
            f"The account keeps its credit in {account.currency}, not {amount.currency.code}."
        )
    if not amount.amount.is_finite() or amount.amount == 0:
        raise ValidationError("A ledger entry needs a non-zero amount.")
    if -amount.amount.as_tuple().exponent > minor_unit_places(account.currency):
        raise ValidationError(f"{amount.amount} has more decimals than {account.currency} allows.")
    if reason not in CreditLedgerEntry.Reason.values:
        raise ValidationError(f"Unknown ledger reason {reason!r}.")
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        if amount.amount < 0:
            balance = credit_balance(account)
            if balance + amount < Money(0, account.currency):
                raise ValidationError(
                    f"The account has {balance} of credit; {-amount} cannot be taken from it."
                )
        return CreditLedgerEntry.objects.create(
            account=account,
            amount=amount,
            reason=reason,
            reference=reference,
            note=note,
            created_by=created_by,
            created_at=clock.now(),
        )


def _seat_target(subscription: Subscription) -> str:
    return f"subscription {subscription.pk} ({subscription.plan.product.name})"


# Licenses are held only on a subscription the account has now (or is trying out).
SEAT_HOLDING_STATUSES = (
    Subscription.Status.TRIAL,
    Subscription.Status.ACTIVE,
    Subscription.Status.PAST_DUE,
)


def seat_assign(
    *,
    subscription: Subscription,
    user: User,
    actor: User | None = None,
    channel: str = Channel.OPERATIONS,
    reason: str = "",
) -> SeatAssignment:
    """Give ``user``, a member of the subscription's account, one of its licenses.

    The subscription's row is locked first, so two assignments at once (or an
    assignment and a seat reduction) are counted one after the other and never
    exceed its licenses; the membership's row is locked next, so a member being
    removed at the same time cannot keep a license. Assigning a license the user
    already holds changes nothing and writes no activity.
    """
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan__product", "account")
            .get(pk=subscription.pk)
        )
        is_member = (
            Membership.objects.select_for_update()
            .filter(account_id=locked.account_id, user=user)
            .exists()
        )
        if not is_member:
            raise ValidationError(
                _("%(user)s is not a member of %(account)s.")
                % {"user": user.email, "account": locked.account.name},
                code="not_member",
            )
        existing = SeatAssignment.objects.filter(subscription=locked, user=user).first()
        if existing:
            return existing
        if locked.status not in SEAT_HOLDING_STATUSES:
            raise ValidationError(
                _("%(product)s has no licenses to assign: it is not active.")
                % {"product": locked.plan.product.name},
                code="not_active",
            )
        assigned = locked.assignments.count()
        if assigned >= locked.seats:
            raise ValidationError(
                ngettext(
                    "%(product)s has %(count)d license and it is assigned; "
                    "add licenses or unassign it first.",
                    "%(product)s has %(count)d licenses and all are assigned; "
                    "add licenses or unassign one first.",
                    locked.seats,
                )
                % {"count": locked.seats, "product": locked.plan.product.name},
                code="no_free_license",
            )
        assignment = SeatAssignment.objects.create(
            subscription=locked, user=user, assigned_at=clock.now()
        )
        activity_record(
            account=locked.account,
            actor=actor,
            channel=channel,
            action="license_assigned",
            target=_seat_target(locked),
            before={"user": user.email, "assigned": assigned},
            after={"user": user.email, "assigned": assigned + 1},
            reason=reason,
        )
    return assignment


def seat_unassign(
    *,
    subscription: Subscription,
    user: User,
    actor: User | None = None,
    channel: str = Channel.OPERATIONS,
    reason: str = "",
) -> None:
    """Take back the license ``user`` holds on ``subscription``, freeing it."""
    with transaction.atomic():
        locked = (
            Subscription.objects.select_for_update(of=("self",))
            .select_related("plan__product", "account")
            .get(pk=subscription.pk)
        )
        assigned = locked.assignments.count()
        deleted, _rows = SeatAssignment.objects.filter(subscription=locked, user=user).delete()
        if not deleted:
            raise ValidationError(
                _("%(user)s holds no license of %(product)s.")
                % {"user": user.email, "product": locked.plan.product.name},
                code="not_assigned",
            )
        activity_record(
            account=locked.account,
            actor=actor,
            channel=channel,
            action="license_unassigned",
            target=_seat_target(locked),
            before={"user": user.email, "assigned": assigned},
            after={"user": user.email, "assigned": assigned - 1},
            reason=reason,
        )


def tax_rates_ensure_eu_standard() -> int:
    """Fill in the EU standard VAT rates that are missing; never overwrite an edited one."""
    created = 0
    for country, rate in EU_STANDARD_VAT_RATES.items():
        created += TaxRate.objects.get_or_create(country=country, defaults={"rate": Decimal(rate)})[
            1
        ]
    return created


# -- Support staff actions: each through a service, each with a reason and an audit entry --


def _audit(*, account: Account, staff: User, action: str, target: str, before, after, reason):
    return activity_record(
        account=account,
        actor=staff,
        channel=Channel.ADMIN,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
    )


def _staff_amount(value: Money) -> str:
    """An amount as staff read it in the admin: "€1,000,000.00"."""
    return money_text(value, locale="en_US")


# What support may move in one correction, and the most credit a correction may leave
# on an account: a typo of a few zeros must not turn into a fortune of credit.
SUPPORT_CREDIT_LIMIT = Decimal("1000000")


def account_credit_adjust(
    *, account: Account, amount: Money, kind: str, reason: str, staff: User
) -> CreditLedgerEntry:
    """A goodwill credit or a correction (either sign) on the account's ledger.

    Limited by the balance it leaves, read under the account's row lock (so two
    corrections at once cannot both pass on the same old balance): an entry that adds
    credit may not take the balance above ``SUPPORT_CREDIT_LIMIT``, one that takes
    credit away may not take it below zero (``credit_ledger_add``). A balance already
    above the limit (credit from seat reductions) may still be corrected down.
    """
    if kind not in (CreditLedgerEntry.Reason.GOODWILL, CreditLedgerEntry.Reason.CORRECTION):
        raise ValidationError("Choose goodwill credit or correction.")
    if not reason.strip():
        raise ValidationError("A reason is required.")
    if amount.amount.is_finite() and abs(amount.amount) > SUPPORT_CREDIT_LIMIT:
        raise ValidationError(f"Enter a non-zero amount up to {SUPPORT_CREDIT_LIMIT:,}.")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = credit_balance(locked)
        after = before + amount if amount.currency.code == locked.currency else None
        if after is not None and amount.amount > 0 and after.amount > SUPPORT_CREDIT_LIMIT:
            limit = Money(SUPPORT_CREDIT_LIMIT, locked.currency)
            raise ValidationError(
                f"{locked} has {_staff_amount(before)} of credit; adding "
                f"{_staff_amount(amount)} would leave {_staff_amount(after)}, more than the "
                f"{_staff_amount(limit)} a correction may leave. Nothing was changed."
            )
        entry = credit_ledger_add(
            account=locked,
            amount=amount,
            reason=kind,
            note=reason.strip()[:500],
            created_by=staff,
        )
        _audit(
            account=locked,
            staff=staff,
            action="credit_adjustment",
            target=f"ledger entry {entry.pk}",
            before={"balance": str(before.amount)},
            after={"balance": str(after.amount), "amount": str(amount.amount)},
            reason=reason,
        )
    return entry


def account_channel_switch(*, account: Account, channel: str, reason: str, staff: User) -> Account:
    if channel not in Account.BillingChannel.values:
        raise ValidationError(f"Unknown billing channel {channel!r}.")
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        before = locked.billing_channel
        if before == channel:
            raise ValidationError(f"{locked} is already on the {channel} channel.")
        locked.billing_channel = channel
        locked.save(update_fields=["billing_channel"])
        _audit(
            account=locked,
            staff=staff,
            action="billing_channel",
            target=str(locked),
            before={"billing_channel": before},
            after={"billing_channel": channel},
            reason=reason,
        )
    return locked


def subscription_trial_extend(
    *, subscription: Subscription, days: int, reason: str, staff: User
) -> Subscription:
    """Give a trial (running or expired) more days; an expired one runs again."""
    if not 1 <= days <= 365:
        raise ValidationError("Extend a trial by 1 to 365 days.")
    with transaction.atomic():
        locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if locked.status not in (Subscription.Status.TRIAL, Subscription.Status.EXPIRED):
            raise ValidationError("Only a trial can be extended.")
        before = {"status": locked.status, "trial_end": _iso(locked.trial_end)}
        start_from = max(filter(None, [locked.trial_end, clock.now()]))
        locked.trial_end = start_from + timedelta(days=days)
        locked.current_period_end = max(locked.current_period_end, locked.trial_end)
        locked.status = Subscription.Status.TRIAL
        locked.version = F("version") + 1
        locked.save(update_fields=["trial_end", "current_period_end", "status", "version"])
        locked.refresh_from_db()
        _audit(
            account=locked.account,
            staff=staff,
            action="trial_extended",
            target=f"subscription {locked.pk}",
            before=before,
            after={"status": locked.status, "trial_end": _iso(locked.trial_end)},
            reason=reason,
        )
    return locked


def _iso(value) -> str | None:
    return value.isoformat() if value else None
