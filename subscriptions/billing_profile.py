"""The billing profile: the legal name and address invoices carry, the VAT number, and
who else receives invoice emails. One writer, for the Billing Center and support.

The country is not part of it: it decides the VAT (docs/billing-rules.md, "Tax"),
so only support changes it, in the admin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from subscriptions.activity import Channel, activity_record
from subscriptions.models import Account, User
from subscriptions.vat import InvalidVatNumber, normalize_vat_number

# A few addresses: invoices go to the billing admins, these are copies for bookkeeping.
MAX_INVOICE_RECIPIENTS = 5

# Activity codes (subscriptions/activity.py), one per part of the profile that changed.
BILLING_ADDRESS_CHANGED = "billing_address_changed"
VAT_NUMBER_CHANGED = "vat_number_changed"
INVOICE_RECIPIENTS_CHANGED = "invoice_recipients_changed"


@dataclass(frozen=True)
class BillingAddress:
    legal_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postal_code: str = ""
    city: str = ""

    @classmethod
    def of(cls, account: Account) -> BillingAddress:
        return cls(**{name: getattr(account, name) for name in cls.__dataclass_fields__})

    def stripped(self) -> BillingAddress:
        return BillingAddress(
            **{name: " ".join(value.split()) for name, value in asdict(self).items()}
        )


def invoice_recipients_clean(addresses: list[str]) -> list[str]:
    """Lower-cased, each once, in the order given; at most ``MAX_INVOICE_RECIPIENTS``.

    Raises ``ValidationError`` naming the first address that is not one.
    """
    cleaned: list[str] = []
    for address in addresses:
        address = address.strip().lower()
        if not address or address in cleaned:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(
                {
                    "invoice_recipients": ValidationError(
                        "%(address)s is not an email address.",
                        code="invalid",
                        params={"address": address},
                    )
                }
            ) from None
        cleaned.append(address)
    if len(cleaned) > MAX_INVOICE_RECIPIENTS:
        raise ValidationError(
            {
                "invoice_recipients": ValidationError(
                    f"Enter at most {MAX_INVOICE_RECIPIENTS} addresses.", code="too_many"
                )
            }
        )
    return cleaned


def account_billing_profile_update(
    *,
    account: Account,
    address: BillingAddress,
    vat_number: str,
    invoice_recipients: list[str],
    actor: User | None,
    channel: str = Channel.PORTAL,
    reason: str = "",
) -> Account:
    """Save the billing profile; each part that changed writes its activity entry.

    ``vat_number`` is checked as at checkout (offline, for the account's country) and
    stored compact; an empty one removes it. Anything invalid raises
    ``ValidationError`` and nothing is saved. Support (``Channel.ADMIN``) gives a reason.
    """
    if channel == Channel.ADMIN and not reason.strip():
        raise ValidationError("A reason is required.")
    address = address.stripped()
    for name, value in asdict(address).items():
        limit = Account._meta.get_field(name).max_length
        if len(value) > limit:
            raise ValidationError({name: f"At most {limit} characters."})
    recipients = invoice_recipients_clean(invoice_recipients)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        compact = ""
        if vat_number.strip():
            try:
                compact = normalize_vat_number(vat_number, locked.country)
            except InvalidVatNumber as error:
                raise ValidationError({"vat_number": str(error)}) from None
        record = {
            "account": locked,
            "actor": actor,
            "channel": channel,
            "target": str(locked),
            "reason": reason,
        }
        before_address = BillingAddress.of(locked)
        if address != before_address:
            activity_record(
                action=BILLING_ADDRESS_CHANGED,
                before=_changed(before_address, address),
                after=_changed(address, before_address),
                **record,
            )
        if compact != locked.vat_number:
            activity_record(
                action=VAT_NUMBER_CHANGED,
                before={"vat_number": locked.vat_number},
                after={"vat_number": compact},
                **record,
            )
        if recipients != list(locked.invoice_recipients):
            activity_record(
                action=INVOICE_RECIPIENTS_CHANGED,
                before={"invoice_recipients": list(locked.invoice_recipients)},
                after={"invoice_recipients": recipients},
                **record,
            )
        for name, value in asdict(address).items():
            setattr(locked, name, value)
        locked.vat_number = compact
        locked.invoice_recipients = recipients
        locked.save(
            update_fields=[*asdict(address), "vat_number", "invoice_recipients"],
        )
    for name in (*asdict(address), "vat_number", "invoice_recipients"):
        setattr(account, name, getattr(locked, name))
    return locked


def _changed(side: BillingAddress, other: BillingAddress) -> dict[str, str]:
    """The fields of ``side`` that differ from ``other``: the entry shows only what changed."""
    mine, theirs = asdict(side), asdict(other)
    return {name: value for name, value in mine.items() if value != theirs[name]}
