"""VAT numbers and tax treatment (docs/billing-rules.md, "Tax"). Pure: no ORM, no settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.util import clean

# The member states of the European Union (ISO 3166-1 alpha-2).
EU_COUNTRIES = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip


def vat_prefix(country: str) -> str:
    """The prefix a VAT number carries: the country code, except Greece's EL."""
    return "EL" if country == "GR" else country


class InvalidVatNumber(ValueError):
    """A VAT number failed the offline format and check-digit test."""


def normalize_vat_number(number: str, country: str) -> str:
    """Return the compact form of ``number`` for an account in ``country``, or raise.

    Spaces, dots and dashes are dropped; for an EU country the number may be
    given with or without its country prefix, but a prefix of another
    country is refused. Checked offline with python-stdnum (format and check
    digits), not against VIES.
    """
    country = (country or "").upper()
    raw = (number or "").strip()
    if not raw:
        raise InvalidVatNumber("Enter a VAT number.")
    if len(raw) > 32:
        raise InvalidVatNumber("A VAT number has at most 32 characters.")
    if country in EU_COUNTRIES:
        prefix = vat_prefix(country)
        compact = clean(raw, " -./,:").upper()
        if country == "GR" and compact[:2] == "GR":
            raise InvalidVatNumber("A Greek VAT number starts with EL, not GR.")
        if compact[:2].isalpha() and compact[:2] != prefix:
            raise InvalidVatNumber(
                f"This VAT number starts with {compact[:2]}, but the account is in {country}: "
                f"a VAT number from {country} starts with {prefix}."
            )
        if not compact[:2].isalpha():
            compact = prefix + compact
        try:
            return eu_vat.validate(compact)
        except ValidationError:
            raise InvalidVatNumber(
                f"{raw} is not a valid VAT number for {country}: check the digits."
            ) from None
    module = get_cc_module(country.lower(), "vat") if country.isalpha() else None
    if module is None:
        raise InvalidVatNumber(f"VAT numbers from {country or 'this country'} cannot be checked.")
    try:
        compact = module.validate(raw)
    except ValidationError:
        raise InvalidVatNumber(
            f"{raw} is not a valid VAT number for {country}: check the digits."
        ) from None
    # Stored with its country prefix, like the EU numbers.
    return compact if compact[:2].isalpha() else country + compact


def is_valid_vat_number(number: str, country: str) -> bool:
    try:
        normalize_vat_number(number, country)
    except InvalidVatNumber:
        return False
    return True


DOMESTIC = "domestic"
REVERSE_CHARGE = "reverse_charge"
DESTINATION = "destination"
OUTSIDE_EU = "outside_eu"


@dataclass(frozen=True)
class TaxTreatment:
    """Which VAT applies to a customer, and why."""

    kind: str
    rate: Decimal
    country: str

    @property
    def is_reverse_charge(self) -> bool:
        return self.kind == REVERSE_CHARGE


class MissingTaxRate(ValueError):
    """No standard VAT rate is known for a country the rules need one for."""


def resolve_tax_treatment(
    *,
    seller_country: str,
    customer_country: str,
    vat_number: str,
    standard_rates: Mapping[str, Decimal],
) -> TaxTreatment:
    """Decide the VAT for a customer (docs/billing-rules.md, "Tax").

    - customer in the seller's country: that country's rate;
    - other EU country with a (validated) VAT number: reverse charge, 0 %;
    - other EU country without one: the customer country's standard rate;
    - outside the EU: 0 %.
    Reverse charge needs a VAT number that passes the check for the
    customer's country: a number stored some other way counts as none.
    """
    seller_country = seller_country.upper()
    customer_country = customer_country.upper()

    def rate_of(country: str) -> Decimal:
        try:
            return Decimal(standard_rates[country])
        except KeyError:
            raise MissingTaxRate(f"No standard VAT rate is recorded for {country}.") from None

    if customer_country == seller_country:
        return TaxTreatment(DOMESTIC, rate_of(customer_country), customer_country)
    if customer_country in EU_COUNTRIES and seller_country in EU_COUNTRIES:
        if vat_number and is_valid_vat_number(vat_number, customer_country):
            return TaxTreatment(REVERSE_CHARGE, Decimal("0"), customer_country)
        return TaxTreatment(DESTINATION, rate_of(customer_country), customer_country)
    return TaxTreatment(OUTSIDE_EU, Decimal("0"), customer_country)
