"""`make bench-scaling`: how the cost grows with the work (not a test).

    make bench-scaling                          # renewals of 10,000 and 100,000; 1/10/100
    make bench-scaling BENCH_ARGS=--million     # adds 1,000,000 due subscriptions (long)

Renewals: ``bench/renewals.py`` in one process for each number of due
subscriptions, each on a database of its own: subscriptions per second and
peak RSS, which should stay flat as the number grows.

Billing Center: one database with an account of 1, 10 and 100 subscriptions
(``bench.population.seed_billing_center``), read ``GET /`` in a process of its
own with Django's test client (the whole middleware stack and the template,
no HTTP server), ``DEBUG`` off, the benchmark's settings. The sizes take turns
in rounds; the queries of one request are counted with ``CaptureQueriesContext``
(the session and the user included). Every page must answer 200 and show one
licence count per subscription.

Prints one table per measurement and writes bench/results/scaling.json.
``make bench`` runs the same functions (``scaling_run``) after its renewals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.database import admin_sql, database_url  # noqa: E402 (the repository root first)

RESULTS = ROOT / "bench" / "results" / "scaling.json"
RENEWAL_SIZES = (10_000, 100_000)
MILLION = 1_000_000
BILLING_CENTER_SIZES = (1, 10, 100)
REQUESTS = 200  # measured Billing Center requests per size
ROUND = 10  # requests of one size before the next size's turn
MARKER = b'data-testid="seats"'  # once per subscription on the page


# -- Renewals ----------------------------------------------------------------------------------


def renewal_scaling(
    sizes: tuple[int, ...], environment: dict[str, str], known: dict[int, dict] | None = None
) -> list[dict]:
    """bench/renewals.py in one process for each size; ``known`` reports are reused."""
    known = known or {}
    points = []
    for size in sizes:
        report = known.get(size)
        if report is None:
            print(f"\n== Renewals scaling: {size:,} due subscriptions", flush=True)
            with tempfile.TemporaryDirectory() as scratch:
                output = Path(scratch) / "renewals.json"
                completed = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
                    [
                        sys.executable,
                        str(ROOT / "bench" / "renewals.py"),
                        "--subscriptions",
                        str(size),
                        "--output",
                        str(output),
                    ],
                    env=environment,
                    check=False,
                )
                if completed.returncode != 0 or not output.exists():
                    points.append({"subscriptions": size, "error": "bench/renewals.py failed"})
                    continue
                report = json.loads(output.read_text())
        points.append(
            {
                "subscriptions": size,
                "due": report.get("due"),
                "seconds": report.get("seconds"),
                "subscriptions_per_second": report.get("subscriptions_per_second"),
                "cpu_seconds": report.get("cpu_seconds"),
                "peak_rss_mb": report.get("peak_rss_mb"),
                "rss_before_run_mb": report.get("rss_before_run_mb"),
                "batches": report.get("batches"),
                "build_seconds": report.get("build_seconds"),
                "still_due_after": report.get("still_due_after"),
            }
        )
    return points


# -- The Billing Center --------------------------------------------------------------------------


def billing_center_scaling(
    sizes: tuple[int, ...], requests: int, environment: dict[str, str]
) -> list[dict]:
    """Build a database, measure in a child process, drop the database."""
    print(f"\n== Billing Center scaling: accounts of {sizes} subscriptions", flush=True)
    name = f"bench_scaling_{os.getpid()}_{secrets.token_hex(3)}"
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        completed = subprocess.run(  # noqa: S603 (this interpreter, this script)
            [
                sys.executable,
                __file__,
                "--billing-center-in",
                name,
                "--billing-center",
                ",".join(map(str, sizes)),
                "--requests",
                str(requests),
            ],
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sys.stderr.write(completed.stderr[-3000:])
    if completed.returncode != 0:
        return [{"subscriptions": size, "error": "measurement failed"} for size in sizes]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _billing_center_measure(name: str, sizes: tuple[int, ...], requests: int) -> list[dict]:
    """In the child: migrate, seed, then read each account's Billing Center."""
    os.environ.update(
        DATABASE_URL=database_url(name),
        DJANGO_SETTINGS_MODULE="bench.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        LOG_LEVEL="WARNING",
        STATIC_ROOT=tempfile.mkdtemp(prefix="bench_scaling_static_"),
    )
    for variable in ("CELERY_BROKER_URL", "STRIPE_SECRET_KEY", "EMAIL_URL"):
        os.environ.pop(variable, None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.population import seed_billing_center

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    admins = seed_billing_center(sizes=sizes, now=timezone.now())
    clients = {}
    for size, user in admins.items():
        clients[size] = Client()
        clients[size].force_login(user)

    def read(size: int) -> int:
        response = clients[size].get("/")
        shown = response.content.count(MARKER)
        if response.status_code != 200 or shown != size:
            raise SystemExit(f"{size} subscriptions: HTTP {response.status_code}, {shown} shown")
        return len(response.content)

    queries, sizes_bytes = {}, {}
    for size in sizes:
        for _ in range(ROUND):  # warm-up
            read(size)
        with CaptureQueriesContext(connection) as captured:
            sizes_bytes[size] = read(size)
        queries[size] = len(captured)
    wall: dict[int, list[float]] = {size: [] for size in sizes}
    cpu: dict[int, float] = dict.fromkeys(sizes, 0.0)
    turn = 0
    while any(len(wall[size]) < requests for size in sizes):
        order = sizes[turn % len(sizes) :] + sizes[: turn % len(sizes)]
        for size in order:
            for _ in range(min(ROUND, requests - len(wall[size]))):
                started, cpu_started = time.perf_counter(), time.process_time()
                read(size)
                wall[size].append(time.perf_counter() - started)
                cpu[size] += time.process_time() - cpu_started
        turn += 1
    points = []
    for size in sizes:
        times = sorted(wall[size])
        points.append(
            {
                "subscriptions": size,
                "requests": len(times),
                "median_ms": round(1000 * statistics.median(times), 2),
                "p95_ms": round(1000 * times[max(0, -(-len(times) * 95 // 100) - 1)], 2),
                "python_cpu_ms": round(1000 * cpu[size] / len(times), 2),
                "queries": queries[size],
                "page_bytes": sizes_bytes[size],
            }
        )
    connection.close()
    return points


# -- The tables ------------------------------------------------------------------------------------


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown_tables(scaling: dict) -> str:
    out = []
    renewals = scaling.get("renewals") or []
    if renewals:
        out += [
            "| due subscriptions | subscriptions/s | peak RSS | RSS before the run "
            "| seconds | CPU per subscription |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for point in renewals:
            cpu, due = point.get("cpu_seconds"), point.get("due")
            out.append(
                f"| {point['subscriptions']:,} "
                f"| {_cell(point.get('subscriptions_per_second'), ',.0f')}/s "
                f"| {_cell(point.get('peak_rss_mb'), ',.0f')} MB "
                f"| {_cell(point.get('rss_before_run_mb'), ',.0f')} MB "
                f"| {_cell(point.get('seconds'), ',.1f')} "
                f"| {_cell(1000 * cpu / due if cpu and due else None, '.2f')} ms |"
            )
    center = scaling.get("billing_center") or []
    if center:
        if out:
            out.append("")
        out += [
            "| subscriptions on the account | median | p95 | Python CPU | queries | page |",
            "| ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for point in center:
            out.append(
                f"| {point['subscriptions']} "
                f"| {_cell(point.get('median_ms'), '.1f')} ms "
                f"| {_cell(point.get('p95_ms'), '.1f')} ms "
                f"| {_cell(point.get('python_cpu_ms'), '.1f')} ms "
                f"| {_cell(point.get('queries'), 'd')} "
                f"| {_cell((point.get('page_bytes') or 0) / 1024, ',.0f')} KiB |"
            )
    return "\n".join(out)


def scaling_ok(scaling: dict) -> bool:
    points = (scaling.get("renewals") or []) + (scaling.get("billing_center") or [])
    return not any("error" in point for point in points)


def scaling_run(
    *,
    renewal_sizes: tuple[int, ...],
    billing_center_sizes: tuple[int, ...],
    requests: int,
    environment: dict[str, str],
    known_renewals: dict[int, dict] | None = None,
) -> dict:
    """Both measurements; empty sizes skip one."""
    return {
        "renewals": renewal_scaling(renewal_sizes, environment, known_renewals),
        "billing_center": billing_center_scaling(billing_center_sizes, requests, environment)
        if billing_center_sizes
        else [],
    }


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--renewals",
        type=_sizes,
        default=RENEWAL_SIZES,
        help="Numbers of due subscriptions, comma-separated (10000,100000; '' skips).",
    )
    parser.add_argument("--million", action="store_true", help="Add 1,000,000 (long).")
    parser.add_argument(
        "--billing-center",
        type=_sizes,
        default=BILLING_CENTER_SIZES,
        help="Subscriptions of each account read (1,10,100; '' skips).",
    )
    parser.add_argument("--requests", type=int, default=REQUESTS, help="Per size (200).")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--billing-center-in", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.billing_center_in:  # the child process
        points = _billing_center_measure(args.billing_center_in, args.billing_center, args.requests)
        print(json.dumps(points))
        return 0

    load_before = os.getloadavg()
    renewal_sizes = args.renewals + ((MILLION,) if args.million else ())
    scaling = scaling_run(
        renewal_sizes=renewal_sizes,
        billing_center_sizes=args.billing_center,
        requests=args.requests,
        environment=dict(os.environ),
    )
    report = {
        "benchmark": "make bench-scaling (bench/scaling.py)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": scaling_ok(scaling),
        **scaling,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "postgresql": admin_sql("SHOW server_version")[0][0],
        },
        "markdown_table": markdown_tables(scaling),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(report["markdown_table"])
    print(f"\nwritten to {args.output}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
