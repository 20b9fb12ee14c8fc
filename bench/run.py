"""`make bench`: the portal's throughput against the floor of its own stack, in one run.

    make bench                                  # the full run (about 12 minutes)
    make bench BENCH_OPTS=--quick               # a smoke run (about 1 minute)
    BENCH_SECONDS=60 make bench                 # longer measurements

1. Creates a PostgreSQL database of its own on the server of BENCH_DATABASE_URL
   (default TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432),
   migrates it, collects the static files, bulk-inserts accounts whose billing
   admins are signed in (a session each) with a Visa card on file in the
   sandbox gateway, and starts gunicorn with 2 sync workers, DEBUG off, serving
   ``bench.wsgi`` (the portal plus the floor views of ``bench/floor.py``).
   The order confirmation email is counted instead of published (see
   ``bench/wsgi.py``): the run measures the portal, not a broker or SMTP.
2. Place order: rounds of edit → add to cart → review for a group of
   accounts, then their Place order POSTs at CONCURRENCY, then as many write
   floor POSTs at the same concurrency (the two alternate in order from round
   to round). orders/s = placed orders / time of the Place order phases.
3. Billing Center (GET /), review (GET /checkout/) and the read floor at 16
   concurrent clients, in interleaved slices so that a noisy neighbour hits
   all three alike.
4. Stops the server and checks that every redirect to an order page is a real
   order, paid once, with lines, history and licenses in agreement; drops the
   database.
5. pgbench TPC-B-like at 4 clients on a scratch database (PostgreSQL's own
   ceiling on this machine), then ``bench/renewals.py`` (and its fan-out to
   Celery workers if it offers one).
6. ``bench/scaling.py`` (unless --no-scaling): renewals of a tenth as many,
   and the Billing Center of accounts with 1, 10 and 100 subscriptions.

Prints one table (figure, value, target, ratio, pass/fail) and writes
bench/results/latest.json (``--quick`` writes bench/results/quick.json).
Exits non-zero when a request failed or the orders do not add up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.database import admin_sql, database_url, server_url  # noqa: E402 (the root first)
from bench.phases import (  # noqa: E402
    RESULTS,
    Bench,
    Config,
    pages_benchmark,
    pgbench_run,
    place_benchmark,
    renewals_run,
)
from bench.report import figures, outcome_print, report_write  # noqa: E402
from bench.scaling import BILLING_CENTER_SIZES, scaling_run  # noqa: E402
from bench.server import HOST, CpuMeter, Gunicorn, free_port  # noqa: E402


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="A short smoke run.")
    parser.add_argument(
        "--seconds",
        type=float,
        help="Measured seconds per figure (default BENCH_SECONDS, else 20; 3 with --quick).",
    )
    parser.add_argument("--warmup", type=float, help="Warm-up seconds (default 5; 1 --quick).")
    parser.add_argument("--concurrency", type=int, default=8, help="Place order clients (8).")
    parser.add_argument("--read-concurrency", type=int, default=16, help="Page clients (16).")
    parser.add_argument("--place-accounts", type=int, help="Accounts that check out (2,000).")
    parser.add_argument("--read-accounts", type=int, help="Accounts whose pages are read (500).")
    parser.add_argument(
        "--renewals",
        type=int,
        help="Subscriptions for bench/renewals.py (100,000; 2,000 --quick; 0 skips it).",
    )
    parser.add_argument(
        "--no-scaling",
        action="store_true",
        help="Skip bench/scaling.py (renewals of a tenth as many, Billing Center of 1/10/100).",
    )
    parser.add_argument("--pgbench-seconds", type=float, help="pgbench duration (--seconds).")
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--output", type=Path, help="Where to write the JSON report.")
    args = parser.parse_args(argv)
    quick = args.quick
    seconds = args.seconds or float(os.environ.get("BENCH_SECONDS") or (3 if quick else 20))
    place_accounts = args.place_accounts or (200 if quick else 2_000)
    return Config(
        quick=quick,
        seconds=seconds,
        warmup=args.warmup if args.warmup is not None else (1 if quick else 5),
        write_concurrency=args.concurrency,
        read_concurrency=args.read_concurrency,
        place_accounts=place_accounts,
        read_accounts=args.read_accounts or (50 if quick else 500),
        batch=min(place_accounts, args.concurrency * 50),  # at most; see place_benchmark
        slices=1 if quick else 4,
        renewals=args.renewals if args.renewals is not None else (2_000 if quick else 100_000),
        scaling=not args.no_scaling,
        scaling_requests=20 if quick else 200,
        pgbench_seconds=args.pgbench_seconds or seconds,
        pgbench_scale=4 if quick else 10,
        keep=args.keep,
        output=args.output or RESULTS / ("quick.json" if quick else "latest.json"),
    )


def scaling_measure(config: Config, environment: dict[str, str], renewals: dict) -> dict:
    """bench/scaling.py: renewals of a tenth of ``config.renewals`` (the full number's
    figures are the single-process run's), and the Billing Center of 1, 10, 100."""
    known = {}
    single = renewals.get("single_process") or {}
    if "subscriptions_per_second" in single:
        known[config.renewals] = single
    sizes = (config.renewals // 10, config.renewals) if config.renewals >= 10 else ()
    return scaling_run(
        renewal_sizes=sizes,
        billing_center_sizes=BILLING_CENTER_SIZES,
        requests=config.scaling_requests,
        environment=environment,
        known_renewals=known,
    )


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    original_environment = dict(os.environ)
    load_before = os.getloadavg()
    name = f"bench_portal_{os.getpid()}_{secrets.token_hex(3)}"
    scratch = Path(tempfile.mkdtemp(prefix="bench_portal_"))
    os.environ.update(
        DATABASE_URL=database_url(name),
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=f"{HOST},localhost",
        SECURE_SSL_REDIRECT="0",  # plain HTTP on loopback; HSTS and secure cookies stay on
        LOG_LEVEL="WARNING",
        STATIC_ROOT=str(scratch / "static"),
    )
    for variable in ("CELERY_BROKER_URL", "STRIPE_SECRET_KEY", "EMAIL_URL"):
        os.environ.pop(variable, None)  # tasks eager (and counted), sandbox gateway, no SMTP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"== Building database {name} on {urlsplit(server_url()).hostname}", flush=True)
    admin_sql(f'CREATE DATABASE "{name}"')
    server: Gunicorn | None = None
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from bench.population import seed, verify

        started = time.perf_counter()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        population = seed(
            place_accounts=config.place_accounts,
            read_accounts=config.read_accounts,
            now=timezone.now(),
        )
        connection.close()
        print(
            f"   {config.place_accounts:,} accounts to check out, {config.read_accounts:,} to read,"
            f" in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        server = Gunicorn(free_port(), scratch / "gunicorn.log")
        server.start()
        bench = Bench(server.port, CpuMeter(server.process.pid, name))
        admins = [account.admin() for account in population.place]
        print(
            f"== Place order vs write floor: {config.write_concurrency} clients,"
            f" {config.seconds:.0f} s measured each",
            flush=True,
        )
        asyncio.run(place_benchmark(bench, admins, config))
        print(
            f"== Billing Center, review, read floor: {config.read_concurrency} clients,"
            f" {config.seconds:.0f} s measured each",
            flush=True,
        )
        asyncio.run(pages_benchmark(bench, population.read, config))
        server.stop()
        floor_redirects = sum(
            count
            for recorder in (bench.recorder, bench.warmup)
            for status, count in recorder.statuses.get("floor_write", {}).items()
            if status == 302
        )
        verification = verify(admins=admins, floor_requests=floor_redirects)
        connection.close()
        versions = {
            "postgresql": admin_sql("SHOW server_version")[0][0],
            "django": django.get_version(),
        }
    finally:
        if server is not None:
            server.stop()
        if not config.keep:
            admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    pgbench = pgbench_run(config, original_environment)
    renewals = renewals_run(config, original_environment) if config.renewals else {}
    scaling = scaling_measure(config, original_environment, renewals) if config.scaling else {}
    rows = figures(bench, renewals, pgbench, scaling)
    report = report_write(
        config=config,
        bench=bench,
        rows=rows,
        verification=verification,
        renewals=renewals,
        pgbench=pgbench,
        scaling=scaling,
        load_before=load_before,
        versions=versions,
    )
    outcome_print(report, rows, config.output, ROOT)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
