"""What the checkout tells the apps above it (they may not be imported from here).

``orders_written``: sent by the order writer (``checkout.orders.orders_write``)
inside the orders' transaction, once per batch, with the written ``drafts``
(each one's ``order`` and ``lines``). A receiver that writes rows of its own
(the invoices) writes them in that transaction, so they stand or fall with
the orders; it must write a batch with a fixed number of queries.

``confirmation_attachments``: asked while an order's confirmation email is
built; each receiver returns a list of ``(filename, content bytes, mimetype)``
for ``order``.
"""

from django.dispatch import Signal

orders_written = Signal()
confirmation_attachments = Signal()
