"""The floor: the least a signed-in page and a locked write can cost on this stack.

These views exist only for `make bench` (served through ``bench/urls.py``);
nothing in the portal references them. They run behind the portal's whole
middleware stack (sessions, locale, CSRF, authentication, messages, security
headers) on the same gunicorn workers and database, so a page's ratio to its
floor is what the page's own work costs, on whatever machine runs it.

Both are signed in, like the pages they are compared with: the session and
the user are loaded (two queries) before the view's own work, which is

- **write floor** (``POST /bench/floor/write/?row=N``, CSRF-checked): one
  transaction with ``select_for_update`` of one row, one insert and one
  update, through the ORM, then a redirect, as Place order ends;
- **read floor** (``GET /bench/floor/read/``): three small ORM queries (the
  account the user administers, its number of subscriptions, its card on
  file) and a short page without a template.

Their tables are the benchmark's own (``floor_tables_create``), made in the
benchmark's database only.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection, models, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_POST

from payments.models import PaymentMethod
from subscriptions.models import Account, Membership, Subscription


class FloorCounter(models.Model):
    """One row per checking-out account: the row the write floor locks and updates."""

    id = models.IntegerField(primary_key=True)
    hits = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "bench"
        db_table = "bench_floor_counter"
        managed = False  # made by floor_tables_create in the benchmark's database only

    def __str__(self) -> str:
        return f"counter {self.pk}: {self.hits}"


class FloorLog(models.Model):
    """The write floor's insert."""

    id = models.BigAutoField(primary_key=True)
    counter = models.ForeignKey(FloorCounter, on_delete=models.DO_NOTHING)
    hits = models.BigIntegerField()
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "bench"
        db_table = "bench_floor_log"
        managed = False

    def __str__(self) -> str:
        return f"hit {self.hits} of counter {self.counter_id}"


def floor_tables_create(rows: int) -> None:
    """Create the write floor's two tables, with ``rows`` counters (ids 1 … rows)."""
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in (FloorCounter, FloorLog):
            if model._meta.db_table not in existing:
                editor.create_model(model)
    FloorCounter.objects.bulk_create(
        (FloorCounter(id=n) for n in range(1, rows + 1)), ignore_conflicts=True
    )


def floor_tables_drop() -> None:
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in (FloorLog, FloorCounter):
            if model._meta.db_table in existing:
                editor.delete_model(model)


@login_required
@require_POST
def floor_write(request: HttpRequest) -> HttpResponse:
    """Lock one row, insert one, update the locked one (one transaction); then redirect."""
    row = request.GET.get("row", "1")
    with transaction.atomic():
        counter = get_object_or_404(
            FloorCounter.objects.select_for_update(), pk=int(row) if row.isdigit() else 0
        )
        FloorLog.objects.create(counter=counter, hits=counter.hits + 1)
        FloorCounter.objects.filter(pk=counter.pk).update(hits=F("hits") + 1)
    return HttpResponseRedirect(f"/bench/floor/read/?row={counter.pk}&hits={counter.hits + 1}")


@login_required
@require_GET
def floor_read(request: HttpRequest) -> HttpResponse:
    """Signed in (session, user), then three small queries of its own; no template."""
    account = (
        Account.objects.filter(
            memberships__user=request.user, memberships__role=Membership.Role.BILLING_ADMIN
        )
        .only("id", "name")
        .first()
    )
    if account is None:
        return HttpResponse(status=403)
    subscriptions = Subscription.objects.filter(account=account).count()
    card = (
        PaymentMethod.objects.filter(account=account, is_default=True)
        .values_list("last4", flat=True)
        .first()
    )
    return HttpResponse(
        f"<!doctype html><title>Floor</title><p>Signed in as {escape(request.user.email)}"
        f" for {escape(account.name)}: {subscriptions} subscriptions,"
        f" card {escape(card or '-')}.</p>"
    )
