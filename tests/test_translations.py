"""German is complete, and the compiled catalogue is the one in the source."""

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "subscriptions" / "locale" / "de" / "LC_MESSAGES"


def test_every_message_has_a_german_translation():
    catalogue = polib.pofile(str(LOCALE / "django.po"))
    assert [entry.msgid for entry in catalogue.untranslated_entries()] == []
    assert [entry.msgid for entry in catalogue.fuzzy_entries()] == []


def test_the_compiled_catalogue_matches_the_source():
    source = polib.pofile(str(LOCALE / "django.po"))
    compiled = polib.mofile(str(LOCALE / "django.mo"))

    def entries(catalogue):
        return {
            (entry.msgctxt, entry.msgid): entry.msgstr or tuple(sorted(entry.msgstr_plural.items()))
            for entry in catalogue
            if entry.msgid and not entry.obsolete
        }

    assert entries(compiled) == entries(source), "run: python manage.py compilemessages"


def test_the_help_pages_words_are_used():
    translated = {entry.msgid: entry.msgstr for entry in polib.pofile(str(LOCALE / "django.po"))}
    for english, german in {
        "Options": "Optionen",
        "Edit subscription": "Abonnement bearbeiten",
        "Number of licenses": "Anzahl der Lizenzen",
        "Add to cart": "In den Warenkorb",
        "Change order": "Bestellung ändern",
        "Place order": "Bestellung aufgeben",
        "Subscribe now": "Jetzt abonnieren",
        "Billing period": "Abrechnungszeitraum",
        "Plan price": "Preis des Plans",
        "Total due": "Fälliger Gesamtbetrag",
        "VAT number": "Mehrwertsteuernummer",
        "Payment details": "Zahlungsdaten",
    }.items():
        assert translated[english] == german
