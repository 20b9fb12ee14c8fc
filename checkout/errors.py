"""Why Place order (or a staff change) did not happen: nothing was written then."""

from __future__ import annotations

from checkout.selectors import (
    CartReview,
)
from payments.models import Payment


class CheckoutError(Exception):
    """Place order did not happen; ``code`` says why, nothing was written."""

    code = "checkout_error"

    def __init__(self, message: str = "", *, review: CartReview | None = None) -> None:
        super().__init__(message or self.code)
        self.review = review


class ReviewOutdated(CheckoutError):
    """Something changed since the admin's review: show the new one."""

    code = "review_outdated"


class PaymentDetailsRequired(CheckoutError):
    code = "payment_details_required"


class PaymentFailed(CheckoutError):
    """The gateway did not take the money; ``reason`` is its decline code."""

    code = "payment_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PaymentRequiresAction(CheckoutError):
    """The bank asks the admin to authenticate ``payment`` (3-D Secure)."""

    code = "payment_requires_action"

    def __init__(self, payment: Payment) -> None:
        super().__init__("authentication required")
        self.payment = payment


class PaymentUnavailable(CheckoutError):
    """The gateway did not answer; nothing was placed, trying again is safe."""

    code = "payment_unavailable"


class PaymentInProgress(CheckoutError):
    """Another request is taking this checkout's payment right now."""

    code = "payment_in_progress"
