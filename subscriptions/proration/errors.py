"""Why a quote is refused: ``QuoteError`` (a ``ValueError``) and its kinds."""

from __future__ import annotations

from subscriptions.money import CurrencyMismatch


class QuoteError(ValueError):
    """A seat-change quote was asked for with arguments the rules refuse.

    ``code`` and ``params`` let a page say the same thing in the reader's
    language; ``str(error)`` is the English message.
    """

    def __init__(self, message: str, *, code: str = "", **params: int) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class InvalidSeatCount(QuoteError):
    pass


class NoSeatChange(InvalidSeatCount):
    pass


class UnknownInterval(QuoteError):
    pass


class NaiveDatetime(QuoteError):
    pass


class OutsidePeriod(QuoteError):
    pass


class InvalidTaxRate(QuoteError):
    pass


class InvalidAccountCredit(QuoteError):
    pass


class InvalidUnitPrice(QuoteError):
    pass


class MixedCurrencies(QuoteError, CurrencyMismatch):
    pass
