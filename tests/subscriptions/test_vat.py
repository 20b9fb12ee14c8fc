"""VAT numbers and tax treatment (docs/billing-rules.md, "Tax"): pure, no database."""

from decimal import Decimal

import pytest

from subscriptions.vat import (
    DESTINATION,
    DOMESTIC,
    OUTSIDE_EU,
    REVERSE_CHARGE,
    InvalidVatNumber,
    MissingTaxRate,
    normalize_vat_number,
    resolve_tax_treatment,
)

RATES = {"DE": Decimal("19"), "FR": Decimal("20"), "AT": Decimal("20"), "GR": Decimal("24")}
# Real, valid numbers (from python-stdnum's documentation and tests).


@pytest.mark.parametrize(
    ("given", "country", "stored"),
    [
        ("DE136695976", "DE", "DE136695976"),
        ("de 136 695 976", "DE", "DE136695976"),
        ("DE-136.695.976", "DE", "DE136695976"),
        ("136695976", "DE", "DE136695976"),  # the prefix is added for the account's country
        ("EL094259216", "GR", "EL094259216"),  # Greece's VAT prefix is EL
        ("094259216", "GR", "EL094259216"),
        ("FR40303265045", "FR", "FR40303265045"),
        ("GB980780684", "GB", "GB980780684"),  # outside the EU: that country's own check
        ("980780684", "GB", "GB980780684"),
    ],
)
def test_valid_vat_numbers_are_stored_compact(given, country, stored):
    assert normalize_vat_number(given, country) == stored


@pytest.mark.parametrize(
    ("given", "country", "says"),
    [
        ("DE136695978", "DE", "not a valid VAT number for DE"),  # wrong check digit
        ("DE13669597", "DE", "not a valid VAT number"),  # too short
        ("FR40303265045", "DE", "starts with FR, but the account is in DE"),
        ("GR094259216", "GR", "Greek VAT number starts with EL"),
        ("", "DE", "Enter a VAT number"),
        ("   ", "DE", "Enter a VAT number"),
        ("DE" + "1" * 40, "DE", "at most 32 characters"),
        ("١٣٦٦٩٥٩٧٦", "DE", "not a valid VAT number"),  # Arabic-Indic digits
        ("12345", "US", "cannot be checked"),
    ],
)
def test_invalid_vat_numbers_are_refused_with_a_reason(given, country, says):
    with pytest.raises(InvalidVatNumber, match=says):
        normalize_vat_number(given, country)


def test_invalid_vat_number_is_a_value_error():
    assert issubclass(InvalidVatNumber, ValueError)


def test_customer_in_the_seller_country_pays_its_rate_even_with_a_vat_number():
    treatment = resolve_tax_treatment(
        seller_country="DE", customer_country="DE", vat_number="DE136695976", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (DOMESTIC, Decimal("19"))
    assert not treatment.is_reverse_charge


def test_other_eu_country_with_vat_number_is_reverse_charge():
    treatment = resolve_tax_treatment(
        seller_country="DE", customer_country="FR", vat_number="FR40303265045", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (REVERSE_CHARGE, Decimal("0"))
    assert treatment.is_reverse_charge


def test_other_eu_country_without_vat_number_pays_its_own_standard_rate():
    treatment = resolve_tax_treatment(
        seller_country="DE", customer_country="AT", vat_number="", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (DESTINATION, Decimal("20"))


def test_a_vat_number_that_fails_the_check_is_no_reverse_charge():
    # Stored some other way (a raw UPDATE, an old import): it does not count.
    treatment = resolve_tax_treatment(
        seller_country="DE", customer_country="FR", vat_number="FR00000000000", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (DESTINATION, Decimal("20"))


def test_customer_outside_the_eu_pays_no_vat():
    for country in ("US", "CH", "GB", "JP"):
        treatment = resolve_tax_treatment(
            seller_country="DE", customer_country=country, vat_number="", standard_rates=RATES
        )
        assert (treatment.kind, treatment.rate) == (OUTSIDE_EU, Decimal("0"))


def test_seller_country_is_a_parameter():
    treatment = resolve_tax_treatment(
        seller_country="FR", customer_country="DE", vat_number="", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (DESTINATION, Decimal("19"))
    treatment = resolve_tax_treatment(
        seller_country="FR", customer_country="FR", vat_number="", standard_rates=RATES
    )
    assert (treatment.kind, treatment.rate) == (DOMESTIC, Decimal("20"))


def test_a_missing_rate_is_an_error_not_a_guess():
    with pytest.raises(MissingTaxRate, match="No standard VAT rate is recorded for IT"):
        resolve_tax_treatment(
            seller_country="DE", customer_country="IT", vat_number="", standard_rates=RATES
        )
