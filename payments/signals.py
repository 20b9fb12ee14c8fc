"""What the payments app tells the apps above it, without importing them.

``payment_taken``: a webhook recorded that the gateway took the money of an
attempt whose order is not written yet (the customer passed 3-D Secure and
closed the page, say). The app that owns the attempt writes its order: the
checkout for a Place order attempt, the renewals for a renewal's. Sent after the
event is committed, with ``payment`` (and the ``gateway`` when the sender has
one); each receiver handles its own refusals, and an error in one is logged and
left to the reconciliation sweep.

The reconciliation sweep (``payments/reconcile.py``) sends it too, for money the
gateway reports taken without an order, and counts what the owner answered: a
receiver returns one of ``TAKEN_OUTCOMES`` for an attempt that is its own, and
``None`` for another's.
"""

from django.dispatch import Signal

payment_taken = Signal()

PLACED, REFUNDED, LEFT = "placed", "refunded", "left"
TAKEN_OUTCOMES = (PLACED, REFUNDED, LEFT)
