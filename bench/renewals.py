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


def django_setup(name: str) -> None:
    os.environ["DATABASE_URL"] = database_url(name)
    os.environ["DEBUG"] = "0"  # no query log: bounded memory, as in production
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing_portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


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
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="Where to write the JSON report."
    )
    parser.add_argument("--build", metavar="DATABASE", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="DATABASE", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.build:  # a child process: fill the database
        from bench.renewal_data import build

        django_setup(args.build)
        started = time.perf_counter()
        data = build(args.subscriptions)
        print(json.dumps({"data_set": data, "build_seconds": time.perf_counter() - started}))
        return
    if args.measure:  # a child process: renew and report
        django_setup(args.measure)
        import django

        from bench.renewal_measure import measure, measure_fanned_out

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
            from bench.renewal_measure import redis_url

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
        "benchmark": "renew_subscriptions (renewals.run.subscriptions_renew), sandbox gateway"
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
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
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
    output = args.output.resolve()
    print(f"written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    main()
