"""What the load generator's billing admins do, request by request (no Django here).

A checkout is edit → add to cart → review (the signed review token and the
CSRF token are read from the page) → Place order, which must answer with a
redirect to the new order's page. Each admin adds one license per checkout,
so an account can go round as often as the run lasts and every order takes
money through the sandbox gateway. Anything not as a browser would expect is
counted as a failure, never as a request served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bench.loadgen import CSRF_INPUT, REVIEW_INPUT, Connection, CookieJar, Recorder, form_value

SESSION_COOKIE = "sessionid"
ORDER_LOCATION = re.compile(r"/orders/(BC-[0-9]{8}-[0-9A-F]+)/")
FLOOR_WRITE_LOCATION = re.compile(r"/bench/floor/read/\?row=([0-9]+)&hits=([0-9]+)")


@dataclass
class Admin:
    """One signed-in billing admin of one account (its own session cookie)."""

    index: int
    account_id: int
    subscription_id: int
    seats: int  # the subscription's licenses as far as this admin knows
    jar: CookieJar
    csrf: str = ""
    review: str = ""
    reviewed_seats: int = 0
    orders: list[str] = field(default_factory=list)

    @classmethod
    def signed_in(cls, *, session_key: str, **fields) -> Admin:
        return cls(jar=CookieJar({SESSION_COOKIE: session_key}), **fields)


async def checkout_prepare(connection: Connection, admin: Admin, recorder: Recorder) -> bool:
    """Edit → add one license to the cart → review; keeps the review and CSRF tokens."""
    admin.review = ""
    edit_path = f"/subscriptions/{admin.subscription_id}/edit/"
    page = await connection.request("GET", edit_path, jar=admin.jar)
    csrf = form_value(CSRF_INPUT, page.body)
    recorder.record("edit", page, page.status == 200 and bool(csrf))
    if page.status != 200 or not csrf:
        return False
    seats = admin.seats + 1
    added = await connection.request(
        "POST",
        edit_path,
        jar=admin.jar,
        form={"csrfmiddlewaretoken": csrf, "seats": str(seats), "add": "1"},
    )
    ok = added.status == 302 and added.location.endswith("/cart/")
    recorder.record("add_to_cart", added, ok, f"HTTP {added.status} {added.location}".strip())
    if not ok:
        return False
    review = await connection.request("GET", "/checkout/", jar=admin.jar)
    token = form_value(REVIEW_INPUT, review.body)
    csrf = form_value(CSRF_INPUT, review.body)
    ok = review.status == 200 and bool(token) and bool(csrf)
    recorder.record("review_before_place", review, ok, f"HTTP {review.status}, no review token")
    if ok:
        admin.review, admin.csrf, admin.reviewed_seats = token, csrf, seats
    return ok


async def checkout_place(connection: Connection, admin: Admin, recorder: Recorder) -> bool:
    """Place order with the reviewed token; only a redirect to an order page counts."""
    if not admin.review:
        recorder.fail("place", "not reviewed")
        return False
    response = await connection.request(
        "POST",
        "/checkout/place/",
        jar=admin.jar,
        form={"csrfmiddlewaretoken": admin.csrf, "review": admin.review},
    )
    admin.review = ""
    match = ORDER_LOCATION.fullmatch(response.location) if response.status == 302 else None
    why = f"HTTP {response.status} {response.location}".strip()
    recorder.record("place", response, match is not None, why)
    if match is None:
        return False
    admin.seats = admin.reviewed_seats
    admin.orders.append(match.group(1))
    return True


async def floor_write(connection: Connection, admin: Admin, recorder: Recorder) -> bool:
    """The write floor for this admin's own counter row (CSRF token from the review)."""
    row = admin.index + 1
    response = await connection.request(
        "POST",
        f"/bench/floor/write/?row={row}",
        jar=admin.jar,
        form={"csrfmiddlewaretoken": admin.csrf},
    )
    match = FLOOR_WRITE_LOCATION.fullmatch(response.location) if response.status == 302 else None
    ok = match is not None and int(match.group(1)) == row
    recorder.record("floor_write", response, ok, f"HTTP {response.status} {response.location}")
    return ok


# Signed-in GET pages and what must be on them: (label, path, marker).
PAGES = {
    "billing_center": ("/", b'data-testid="seats"'),
    "review": ("/checkout/", b'name="review"'),
    "floor_read": ("/bench/floor/read/", b"Signed in as "),
}


async def page_get(connection: Connection, jar: CookieJar, label: str, recorder: Recorder) -> bool:
    path, marker = PAGES[label]
    response = await connection.request("GET", path, jar=jar)
    ok = response.status == 200 and marker in response.body
    recorder.record(label, response, ok, f"HTTP {response.status}, marker missing")
    return ok
