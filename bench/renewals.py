"""Benchmark: renew 100,000 due subscriptions with the sandbox gateway (not a test).

    make bench-renewals                       # 100,000 subscriptions, batches of 1,000
    .venv/bin/python bench/renewals.py --subscriptions 10000 --batch-size 500

Creates a PostgreSQL database of its own on the server of BENCH_DATABASE_URL
(default: TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432), migrates
it, fills it with bulk inserts (accounts with a billing admin and a card, four
monthly products each; some cards decline, some accounts have credit, some
subscriptions cancel at period end), then runs ``subscriptions_renew`` in a
fresh process so that its peak RSS is the renewal's alone. Prints
subscriptions per second and peak RSS, writes bench/results/renewals.json,
and drops the database.

With ``--celery-workers N`` the same run is fanned out instead: N Celery
workers (one process each, on the Redis of BENCH_REDIS_URL, default
redis://127.0.0.1:6379/9, which it empties) each renew one shard of the
accounts, sent as ``renew_subscriptions --fan-out N`` sends them; it reports
the wall time from sending the shards to the last result, and the largest
peak RSS among the workers.

The confirmation email of each renewal order is counted instead of published
(no broker, no SMTP): the benchmark measures the renewal, not the email.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.database import admin_sql, database_url  # noqa: E402 (the repository root first)

RESULTS = ROOT / "bench" / "results" / "renewals.json"
# Every subscription's period ends in November 2026; the renewal runs on December 1st.
AT = datetime(2026, 12, 1, tzinfo=UTC)
PRODUCTS_PER_ACCOUNT = 4
CHUNK = 5_000


def django_setup(name: str) -> None:
    os.environ["DATABASE_URL"] = database_url(name)
    os.environ["DEBUG"] = "0"  # no query log: bounded memory, as in production
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# -- Building the data set -------------------------------------------------------------


def build(subscriptions: int) -> dict:
    """Bulk-insert the accounts, people, cards, credit and due subscriptions."""
    from django.core.management import call_command
    from moneyed import Money

    from payments.models import PaymentMethod
    from subscriptions.models import (
        Account,
        CreditLedgerEntry,
        Membership,
        Plan,
        Product,
        Subscription,
        User,
    )
    from subscriptions.proration import period_end

    call_command("migrate", verbosity=0)
    products = Product.objects.bulk_create(
        Product(name=f"Bench product {n}") for n in range(PRODUCTS_PER_ACCOUNT)
    )
    plans = Plan.objects.bulk_create(
        Plan(product=product, interval="month", price=Money(price, "EUR"), max_seats=10_000)
        for product, price in zip(products, ("42.00", "13.33", "7.50", "99.00"), strict=True)
    )
    accounts = -(-subscriptions // PRODUCTS_PER_ACCOUNT)
    counts = {"declining_cards": 0, "accounts_with_credit": 0, "cancel_at_period_end": 0}
    made = 0
    for first in range(0, accounts, CHUNK):
        numbers = range(first, min(first + CHUNK, accounts))
        countries = ("DE", "DE", "DE", "FR", "AT", "US")
        batch = Account.objects.bulk_create(
            Account(
                name=f"Bench customer {n}",
                country=countries[n % len(countries)],
                currency="EUR",
                time_zone="Europe/Berlin",
            )
            for n in numbers
        )
        users = User.objects.bulk_create(
            User(email=f"admin{n}@bench.example", password="!", language="de" if n % 3 else "en")
            for n in numbers
        )
        Membership.objects.bulk_create(
            Membership(user=user, account=account, role="billing_admin")
            for user, account in zip(users, batch, strict=True)
        )
        methods = []
        for n, account in zip(numbers, batch, strict=True):
            declines = n % 50 == 7  # 2 % of the cards decline
            counts["declining_cards"] += declines
            methods.append(
                PaymentMethod(
                    account=account,
                    gateway="sandbox",
                    gateway_reference=f"sandbox_pm_bench_{n}",
                    brand="Visa",
                    last4="0002" if declines else "4242",
                    exp_month=12,
                    exp_year=2030,
                )
            )
        PaymentMethod.objects.bulk_create(methods)
        credit = [account for n, account in zip(numbers, batch, strict=True) if n % 20 == 3]
        counts["accounts_with_credit"] += len(credit)
        CreditLedgerEntry.objects.bulk_create(
            CreditLedgerEntry(account=account, amount=Money("50.00", "EUR"), reason="goodwill")
            for account in credit
        )
        rows = []
        for n, account in zip(numbers, batch, strict=True):
            for index, plan in enumerate(plans):
                if made >= subscriptions:
                    break
                # Anchors on every day of October, the 31st included (→ Nov 30 → Dec 31).
                anchor = datetime(2026, 10, 1 + (n + index) % 31, 9, 30, tzinfo=UTC)
                cancels = (n * PRODUCTS_PER_ACCOUNT + index) % 100 == 42  # 1 %
                counts["cancel_at_period_end"] += cancels
                rows.append(
                    Subscription(
                        account=account,
                        plan=plan,
                        status="active",
                        seats=1 + (n * 7 + index) % 40,
                        billing_anchor=anchor,
                        current_period_start=anchor,
                        current_period_end=period_end(anchor, "month"),
                        cancel_at_period_end=cancels,
                    )
                )
                made += 1
        Subscription.objects.bulk_create(rows)
        print(f"\rbuilt {made:,}/{subscriptions:,} subscriptions", end="", flush=True)
    print()
    # Fresh statistics after a bulk load, as autovacuum would give (it may be off, as on a
    # CI server): without them the planner guesses a dozen accounts and loops over each.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    # The load's (and an earlier benchmark's) dirty pages written out now, not during the
    # measured run. Needs a superuser or pg_checkpoint; without, the run goes on.
    from django.db import DatabaseError

    try:
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
    except DatabaseError as error:
        print(f"no CHECKPOINT before the run: {error}".strip(), file=sys.stderr)
    return {"accounts": accounts, **counts}


# -- The measured run (a process of its own) ------------------------------------------------


def measure(batch_size: int) -> dict:
    import checkout.tasks
    from checkout.models import Order
    from checkout.renewals import subscriptions_due, subscriptions_renew
    from payments.gateways import SandboxGateway

    queued = []

    class CountingConfirmations:
        """Stands in for the email task: counts what would be queued after each commit."""

        def delay(self, order_id: int) -> None:
            queued.append(1)

    checkout.tasks.send_order_confirmation = CountingConfirmations()
    due = subscriptions_due(at=AT).count()
    rss_before = peak_rss_mb()
    batches = []
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = subscriptions_renew(
        at=AT,
        batch_size=batch_size,
        gateway=SandboxGateway(),
        progress=lambda outcomes: batches.append(len(outcomes)),
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    still_due = subscriptions_due(at=AT).count()
    return {
        "due": due,
        "seconds": round(seconds, 2),
        "subscriptions_per_second": round(due / seconds, 1),
        # The renewing process's own CPU; the rest of the wall time is PostgreSQL's.
        "cpu_seconds": round(cpu_seconds, 2),
        "batches": len(batches),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_run_mb": round(rss_before, 1),
        "summary": summary.as_dict(),
        "summary_line": summary.line(),
        "orders": Order.objects.count(),
        "emails_queued": len(queued),
        "still_due_after": still_due,
    }


def redis_url() -> str:
    return os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def worker_peak_rss_mb(pid: int) -> float:
    """The high-water mark of a process's resident memory (VmHWM), while it still runs."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def measure_fanned_out(name: str, workers: int, batch_size: int) -> dict:
    """N worker processes renew one shard each; this process only sends and waits."""
    import redis
    from celery import group

    from billing_portal.celery import app
    from checkout.models import Order
    from checkout.renewals import RenewalSummary, subscriptions_due
    from renewals.tasks import renew_subscriptions_shard_task

    redis.Redis.from_url(redis_url()).flushdb()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(name),
        "CELERY_BROKER_URL": redis_url(),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    processes = [
        subprocess.Popen(  # noqa: S603 (this interpreter, Celery's own entry point)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.renewal_worker",
                "worker",
                "--pool",
                "solo",
                "-n",
                f"bench-renewals-{index}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=environment,
        )
        for index in range(workers)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=1.0)) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit("the Celery workers did not start")
        due = subscriptions_due(at=AT).count()
        shards = group(
            renew_subscriptions_shard_task.s(AT.isoformat(), index, workers, batch_size)
            for index in range(workers)
        )
        started = time.perf_counter()
        results = shards.apply_async().get(disable_sync_subtasks=False)
        seconds = time.perf_counter() - started
        rss = [worker_peak_rss_mb(p.pid) for p in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        redis.Redis.from_url(redis_url()).flushdb()
    summary = RenewalSummary(at=AT)
    for result in results:
        summary.merge(result)
    return {
        "celery_workers": workers,
        "due": due,
        "seconds": round(seconds, 2),
        "subscriptions_per_second": round(due / seconds, 1),
        "peak_rss_mb": round(max(rss), 1),
        "peak_rss_mb_per_worker": [round(value, 1) for value in rss],
        "summary": summary.as_dict(),
        "summary_line": summary.line(),
        "orders": Order.objects.count(),
        "still_due_after": subscriptions_due(at=AT).count(),
    }


def child(*arguments: str) -> dict:
    """Run a step of the benchmark in a process of its own; it reports JSON on stdout.

    The parent never imports Django, so a child's peak RSS (which Linux carries
    over from the parent at fork) is the child's own work.
    """
    result = subprocess.run(  # noqa: S603 (this interpreter, this script)
        [sys.executable, __file__, *arguments], capture_output=True, text=True, check=False
    )
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise SystemExit(result.returncode)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--celery-workers",
        type=int,
        default=0,
        metavar="N",
        help="Fan the run out to N Celery workers on Redis (BENCH_REDIS_URL) instead of "
        "renewing in one process (default: in one process).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--build", metavar="DATABASE", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.build:  # a child process: fill the database
        django_setup(args.build)
        started = time.perf_counter()
        data = build(args.subscriptions)
        print(json.dumps({"data_set": data, "build_seconds": time.perf_counter() - started}))
        return
    if args.measure:  # a child process: renew and report
        django_setup(args.measure)
        import django

        if args.celery_workers:
            report = measure_fanned_out(args.measure, args.celery_workers, args.batch_size)
        else:
            report = measure(args.batch_size)
        report["django"] = django.get_version()
        print(json.dumps(report))
        return

    name = f"bench_renewals_{os.getpid()}_{secrets.token_hex(3)}"
    # Interrupted (Ctrl-C, kill): still drop the database in the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        built = child("--build", name, "--subscriptions", str(args.subscriptions))
        print(
            f"built in {built['build_seconds']:.0f} s; renewing with the sandbox gateway …",
            flush=True,
        )
        if args.celery_workers:
            os.environ["CELERY_BROKER_URL"] = redis_url()  # the measuring child sends through it
        result = child(
            "--measure",
            name,
            "--batch-size",
            str(args.batch_size),
            "--celery-workers",
            str(args.celery_workers),
        )
    finally:
        if not args.keep:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    report = {
        "benchmark": "renew_subscriptions (checkout.renewals.subscriptions_renew), sandbox gateway"
        + (f", fanned out to {args.celery_workers} Celery workers" if args.celery_workers else ""),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "subscriptions": args.subscriptions,
        "batch_size": args.batch_size,
        "data_set": built["data_set"],
        "build_seconds": round(built["build_seconds"], 1),
        **{key: value for key, value in result.items() if key != "django"},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "django": result["django"],
            "postgresql": admin_sql("SHOW server_version")[0][0],
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(result["summary_line"])
    where = (
        f"by {args.celery_workers} Celery workers (largest peak RSS of one worker: "
        f"{result['peak_rss_mb']} MB)"
        if args.celery_workers
        else f"in one process (peak RSS {result['peak_rss_mb']} MB, "
        f"{result['rss_before_run_mb']} MB before the run, {result['batches']} batches)"
    )
    print(
        f"{result['due']:,} due subscriptions renewed in {result['seconds']} s: "
        f"{result['subscriptions_per_second']:,} subscriptions/s, {where}"
    )
    print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
