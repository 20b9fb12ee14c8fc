"""The Activity page: who changed what on the account and when, newest first.

Billing admins read the same trail support sees in the admin (``AuditEntry``),
in their own words (``billing_center.activity_words``). A page costs the same
queries however many entries it shows: the entries with their actors, their
count, and at most one look-up of product names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing_center.activity_words import Wording, subscription_ids_without_product, who
from subscriptions.access import billing_admin_required
from subscriptions.models import Account, AuditEntry, Subscription

ENTRIES_PER_PAGE = 25


@dataclass(frozen=True)
class ActivityLine:
    at: datetime
    who: str
    what: str


def account_activity(*, account: Account):
    """The account's entries, newest first, with their actors (never another account's)."""
    return (
        AuditEntry.objects.filter(account=account)
        .select_related("actor")
        .only(
            "at",
            "action",
            "channel",
            "target",
            "before",
            "after",
            "actor__full_name",
            "actor__email",
        )
        .order_by("-at", "-id")
    )


def _product_names(account: Account, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        Subscription.objects.filter(account=account, pk__in=ids).values_list(
            "pk", "plan__product__name"
        )
    )


@billing_admin_required
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    account = request.account
    page = Paginator(account_activity(account=account), ENTRIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    entries = list(page.object_list)
    wording = Wording(
        tz=account.tzinfo,
        currency=account.currency,
        products=_product_names(account, subscription_ids_without_product(entries)),
    )
    lines = [
        ActivityLine(at=entry.at, who=who(entry), what=wording.sentence(entry)) for entry in entries
    ]
    return render(request, "billing_center/activity.html", {"page": page, "lines": lines})
