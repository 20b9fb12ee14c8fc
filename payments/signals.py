"""What the payments app tells the apps above it, without importing them.

``payment_taken``: a webhook recorded that the gateway took the money of an
attempt whose order is not written yet (the customer passed 3-D Secure and
closed the page, say). The app that owns the attempt writes its order: the
checkout for a Place order attempt, the renewals for a renewal's. Sent after the
event is committed, with ``payment``; each receiver handles its own refusals,
and an error in one is logged and left to the reconciliation sweep.
"""

from django.dispatch import Signal

payment_taken = Signal()
