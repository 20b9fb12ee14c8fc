"""The billing rules' refusals, said in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from subscriptions.proration import QuoteError
from subscriptions.vat import MissingTaxRate


def seat_error_message(error: QuoteError) -> str:
    params = error.params
    if error.code == "not_whole_number":
        return _("Enter the number of licenses as a whole number, such as 7.")
    if error.code == "below_one":
        return _("You need at least 1 license.")
    if error.code == "below_minimum":
        return ngettext(
            "This plan needs at least %(count)d license.",
            "This plan needs at least %(count)d licenses.",
            params["min_seats"],
        ) % {"count": params["min_seats"]}
    if error.code == "above_maximum":
        return ngettext(
            "This plan allows at most %(count)d license.",
            "This plan allows at most %(count)d licenses.",
            params["max_seats"],
        ) % {"count": params["max_seats"]}
    if error.code == "below_assigned":
        return ngettext(
            "%(count)d license is assigned to a user. Unassign users first to go below %(count)d.",
            "%(count)d licenses are assigned to users. Unassign users first to go below %(count)d.",
            params["assigned_seats"],
        ) % {"count": params["assigned_seats"]}
    if error.code == "no_change":
        return ngettext(
            "The subscription already has %(count)d license. Choose another number.",
            "The subscription already has %(count)d licenses. Choose another number.",
            params["current_seats"],
        ) % {"count": params["current_seats"]}
    if error.code == "outside_period":
        return _(
            "The current billing period has ended and its renewal is not done yet. "
            "Please try again later."
        )
    if error.code == "corporate":
        return _("This account's billing is managed through its corporate billing portal.")
    if error.code == "canceled":
        return _("This subscription is canceled.")
    return _("This change cannot be made right now. Please contact support.")


def quote_problem_message(error: ValueError) -> str:
    """Any refusal met while quoting, in the reader's language, without internals."""
    if isinstance(error, QuoteError):
        return seat_error_message(error)
    if isinstance(error, MissingTaxRate):
        return _("No VAT rate is recorded for your country yet. Please contact support.")
    return _("This change cannot be made right now. Please contact support.")
