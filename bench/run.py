"""`make bench`: the portal's throughput against the floor of its own stack, in one run.

    make bench                                  # the full run (about 10 minutes)
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

Prints one table (figure, value, target, ratio, pass/fail) and writes
bench/results/latest.json (``--quick`` writes bench/results/quick.json).
Exits non-zero when a request failed or the orders do not add up.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.database import admin_sql, database_url, server_url  # noqa: E402
from bench.flows import (  # noqa: E402 (the repository root first)
    Admin,
    checkout_place,
    checkout_prepare,
    floor_write,
    page_get,
)
from bench.loadgen import Connection, CookieJar, Recorder, run_for, run_jobs  # noqa: E402

RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"
WORKERS = 2
FLOOR_TARGET = 0.5  # a page's requests/s at least half its floor's
RENEWALS_TARGET = 2_000  # subscriptions per second
RSS_LIMIT_MB = 256


# -- Configuration -----------------------------------------------------------------------


@dataclass
class Config:
    quick: bool
    seconds: float  # measured time of each figure
    warmup: float
    write_concurrency: int
    read_concurrency: int
    place_accounts: int
    read_accounts: int
    batch: int  # the most accounts per Place order round
    slices: int  # interleaved slices of the read measurements
    renewals: int  # subscriptions for bench/renewals.py (0: skip)
    pgbench_seconds: float
    pgbench_scale: int
    keep: bool
    output: Path


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
        pgbench_seconds=args.pgbench_seconds or seconds,
        pgbench_scale=4 if quick else 10,
        keep=args.keep,
        output=args.output or RESULTS / ("quick.json" if quick else "latest.json"),
    )


# -- CPU accounting (Linux /proc; best effort) ---------------------------------------------------


def _process_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [
            int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        ]
    except OSError:
        return []


class CpuMeter:
    """CPU seconds of the gunicorn workers and of their PostgreSQL backends."""

    def __init__(self, gunicorn_pid: int, database: str) -> None:
        self.gunicorn_pid = gunicorn_pid
        self.database = database
        self.local_database = (urlsplit(server_url()).hostname or "127.0.0.1") in {
            "127.0.0.1",
            "localhost",
            "::1",
        }

    def _backends(self) -> list[int]:
        if not self.local_database:
            return []
        rows = admin_sql("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))
        return [pid for (pid,) in rows]

    def sample(self) -> dict[str, float | dict[int, float]]:
        workers = sum(_process_cpu(pid) for pid in _children(self.gunicorn_pid))
        return {
            "workers": workers,
            "backends": {pid: _process_cpu(pid) for pid in self._backends()},
        }

    @staticmethod
    def spent(before: dict, after: dict) -> tuple[float, float]:
        database = sum(
            seconds - before["backends"].get(pid, 0.0) for pid, seconds in after["backends"].items()
        )
        return after["workers"] - before["workers"], database


@dataclass
class Phase:
    """The measured time of one figure, summed over its slices or rounds."""

    seconds: float = 0.0
    requests: int = 0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0

    def per_request_ms(self) -> dict[str, float]:
        n = max(1, self.requests)
        return {
            "load_generator_cpu_ms": round(1000 * self.client_cpu / n, 2),
            "gunicorn_cpu_ms": round(1000 * self.server_cpu / n, 2),
            "postgresql_cpu_ms": round(1000 * self.database_cpu / n, 2),
        }


@dataclass
class Bench:
    port: int
    meter: CpuMeter | None
    recorder: Recorder = field(default_factory=Recorder)
    warmup: Recorder = field(default_factory=Recorder)
    phases: dict[str, Phase] = field(default_factory=dict)

    async def timed(self, name: str, work, labels: tuple[str, ...] = ()) -> None:
        """Run ``work`` (a coroutine) and add its wall and CPU time to phase ``name``.

        Its requests are those recorded under ``labels`` (default: ``name``).
        """
        labels = labels or (name,)
        before_cpu = time.process_time()
        before = self.meter.sample() if self.meter else None
        count_before = sum(self.recorder.count(label) for label in labels)
        seconds = await work
        phase = self.phases.setdefault(name, Phase())
        phase.seconds += seconds
        phase.requests += sum(self.recorder.count(label) for label in labels) - count_before
        phase.client_cpu += time.process_time() - before_cpu
        if self.meter and before:
            server, database = CpuMeter.spent(before, self.meter.sample())
            phase.server_cpu += server
            phase.database_cpu += database


# -- The server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi:application",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"{HOST}:{self.port}",
            "--timeout",
            "120",
            "--log-level",
            "warning",
            "--no-control-socket",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
                command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            try:
                response = asyncio.run(
                    Connection(HOST, self.port).request("GET", "/bench/floor/read/")
                )
            except OSError:
                time.sleep(0.2)
                continue
            if response.status == 302 and len(_children(self.process.pid)) == WORKERS:
                return
            time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- 1. Place order against the write floor -------------------------------------------------


async def place_benchmark(bench: Bench, admins: list[Admin], config: Config) -> None:
    """Rounds of prepare (untimed), then Place order and the write floor (alternating order)."""
    rotation = itertools.cycle(admins)
    concurrency = config.write_concurrency

    def jobs(step, group: list[Admin], recorder: Recorder) -> list:
        return [lambda connection, a=a: step(connection, a, recorder) for a in group]

    async def round_(group: list[Admin], recorder: Recorder, number: int, timed: bool) -> float:
        """One round; returns the seconds its Place order phase took (0: nothing reviewed)."""
        prepare = run_jobs(HOST, bench.port, concurrency, jobs(checkout_prepare, group, recorder))
        if timed:
            await bench.timed("prepare", prepare, ("edit", "add_to_cart", "review_before_place"))
        else:
            await prepare
        ready = [admin for admin in group if admin.review]
        if not ready:
            return 0.0
        place_seconds = 0.0
        steps = [("place", checkout_place), ("floor_write", floor_write)]
        for name, step in steps if number % 2 == 0 else reversed(steps):
            started = time.perf_counter()
            work = run_jobs(HOST, bench.port, concurrency, jobs(step, ready, recorder))
            if timed:
                await bench.timed(name, work)
            else:
                await work
            if name == "place":
                place_seconds = time.perf_counter() - started
        return place_seconds

    # Warm-up rounds, which also tell how many orders make a round of about a quarter of
    # the measured time: four rounds or more, so that Place order and the floor take turns.
    warm_until = time.perf_counter() + config.warmup
    number, warm_orders, warm_seconds = 0, 0, 0.0
    while number == 0 or time.perf_counter() < warm_until:
        group = [next(rotation) for _ in range(min(len(admins), concurrency * 4))]
        seconds = await round_(group, bench.warmup, number, timed=False)
        if not seconds:
            break
        warm_orders += len(group)
        warm_seconds += seconds
        number += 1
    rate = warm_orders / warm_seconds if warm_seconds else 0.0
    batch = int(rate * config.seconds / 4) if rate else config.batch
    batch = min(len(admins), max(concurrency * 4, min(batch, config.batch)))
    while bench.phases.get("place", Phase()).seconds < config.seconds:
        group = [next(rotation) for _ in range(batch)]
        if not await round_(group, bench.recorder, number, timed=True):
            break  # nothing could be reviewed: the failures say why
        number += 1


# -- 2. Pages against the read floor -------------------------------------------------------------

PAGE_LABELS = ("floor_read", "billing_center", "review")


async def pages_benchmark(bench: Bench, sessions: list[str], config: Config) -> None:
    jars = [CookieJar({"sessionid": key}) for key in sessions]

    def job(label: str, recorder: Recorder):
        return lambda connection, n: page_get(connection, jars[n % len(jars)], label, recorder)

    concurrency = config.read_concurrency
    for label in PAGE_LABELS:
        await run_for(HOST, bench.port, concurrency, config.warmup, job(label, bench.warmup))
    for number in range(config.slices):
        labels = PAGE_LABELS[number % 3 :] + PAGE_LABELS[: number % 3]
        for label in labels:
            work = run_for(
                HOST,
                bench.port,
                concurrency,
                config.seconds / config.slices,
                job(label, bench.recorder),
            )
            await bench.timed(label, work)


# -- 3. Renewals (bench/renewals.py) ---------------------------------------------------------------


def renewals_run(config: Config, environment: dict[str, str]) -> dict:
    """Run bench/renewals.py in one process, then fanned out to 2 Celery workers; its JSON
    per mode."""
    script = ROOT / "bench" / "renewals.py"
    results = RESULTS / "renewals.json"
    modes = {"single_process": [], "celery_2_workers": ["--celery-workers", "2"]}
    reports: dict = {}
    for mode, extra in modes.items():
        print(
            f"\n== Renewals ({mode.replace('_', ' ')}): {config.renewals:,} subscriptions",
            flush=True,
        )
        started = time.time()
        completed = subprocess.run(  # noqa: S603 (this interpreter, the lead's script)
            [sys.executable, str(script), "--subscriptions", str(config.renewals), *extra],
            env=environment,
            check=False,
        )
        if completed.returncode != 0 or not results.exists() or results.stat().st_mtime < started:
            reports[mode] = {"error": f"bench/renewals.py exited {completed.returncode}"}
            continue
        reports[mode] = json.loads(results.read_text())
    return reports


# -- 4. pgbench ---------------------------------------------------------------------------------


def pgbench_run(config: Config, environment: dict[str, str]) -> dict:
    """TPC-B-like at 4 clients (2 threads) on a scratch database of its own."""
    parts = urlsplit(server_url())
    connection = [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    env = dict(environment)
    if parts.password:
        env["PGPASSWORD"] = parts.password
    name = f"bench_pgbench_{os.getpid()}_{secrets.token_hex(3)}"
    duration = str(max(1, round(config.pgbench_seconds)))
    print(f"\n== pgbench: TPC-B-like, 4 clients, {config.pgbench_seconds:.0f} s", flush=True)
    admin_sql(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(  # noqa: S603
            ["pgbench", "-i", "-q", "-s", str(config.pgbench_scale), *connection, name],  # noqa: S607
            env=env,
            check=True,
            capture_output=True,
        )
        run = subprocess.run(  # noqa: S603
            ["pgbench", "-c", "4", "-j", "2", "-T", duration, *connection, name],  # noqa: S607
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        return {"error": f"pgbench failed: {error}"}
    finally:
        admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", run.stdout)
    latency = re.search(r"latency average = ([0-9.]+) ms", run.stdout)
    return {
        "tps": float(tps.group(1)) if tps else None,
        "latency_average_ms": float(latency.group(1)) if latency else None,
        "scale": config.pgbench_scale,
        "clients": 4,
        "threads": 2,
        "seconds": max(1, round(config.pgbench_seconds)),
    }


# -- The table -------------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str = "—"
    ratio: float | None = None
    passed: bool | None = None  # None: no target (for scale or information)
    # For a page against its floor: the floor's CPU per request (gunicorn workers and their
    # PostgreSQL backends) over the page's. Other load on the machine moves it much less.
    cpu_ratio: float | None = None


def _rate(bench: Bench, label: str) -> float:
    phase = bench.phases.get(label)
    return phase.requests / phase.seconds if phase and phase.seconds else 0.0


def _ms(bench: Bench, label: str, fraction: float) -> float:
    return 1000 * bench.recorder.percentile(label, fraction)


def _cpu_ratio(bench: Bench, label: str, floor: str) -> float | None:
    page, base = bench.phases.get(label), bench.phases.get(floor)
    if not page or not base or not page.requests or not base.requests:
        return None
    page_cpu = (page.server_cpu + page.database_cpu) / page.requests
    floor_cpu = (base.server_cpu + base.database_cpu) / base.requests
    return floor_cpu / page_cpu if page_cpu else None


def figures(bench: Bench, renewals: dict, pgbench: dict) -> list[Figure]:
    rows: list[Figure] = []
    floor_write_rate = _rate(bench, "floor_write")
    place_rate = _rate(bench, "place")
    ratio = place_rate / floor_write_rate if floor_write_rate else None
    rows += [
        Figure(
            "1. Place order (orders/s)",
            place_rate,
            "/s",
            f"≥ {FLOOR_TARGET:.0%} of write floor",
            ratio,
            ratio is not None and ratio >= FLOOR_TARGET,
            _cpu_ratio(bench, "place", "floor_write"),
        ),
        Figure("   Place order POST p50", _ms(bench, "place", 0.5), "ms"),
        Figure("   Place order POST p95", _ms(bench, "place", 0.95), "ms"),
        Figure("   write floor (requests/s)", floor_write_rate, "/s", "reference"),
        Figure("   write floor p95", _ms(bench, "floor_write", 0.95), "ms"),
    ]
    prepare = bench.phases.get("prepare", Phase())
    place = bench.phases.get("place", Phase())
    if prepare.seconds + place.seconds:
        rows.append(
            Figure(
                "   whole checkouts (4 requests each)",
                bench.recorder.count("place") / (prepare.seconds + place.seconds),
                "/s",
            )
        )
    floor_read_rate = _rate(bench, "floor_read")
    for label, title in (
        ("billing_center", "2. Billing Center GET /"),
        ("review", "   Review GET /checkout/"),
    ):
        rate = _rate(bench, label)
        ratio = rate / floor_read_rate if floor_read_rate else None
        rows += [
            Figure(
                f"{title} (requests/s)",
                rate,
                "/s",
                f"≥ {FLOOR_TARGET:.0%} of read floor",
                ratio,
                ratio is not None and ratio >= FLOOR_TARGET,
                _cpu_ratio(bench, label, "floor_read"),
            ),
            Figure(f"   {label.replace('_', ' ')} p95", _ms(bench, label, 0.95), "ms"),
        ]
    rows += [
        Figure("   read floor (requests/s)", floor_read_rate, "/s", "reference"),
        Figure("   read floor p95", _ms(bench, "floor_read", 0.95), "ms"),
    ]
    for mode, title in (
        ("single_process", "3. Renewals"),
        ("celery_2_workers", "   Renewals, 2 Celery workers"),
    ):
        report = renewals.get(mode)
        if report is None:
            rows.append(Figure(f"{title}: not measured (--renewals 0)", None, "", "≥ 2,000/s"))
            continue
        rate = report.get("subscriptions_per_second")
        rss = report.get("peak_rss_mb")
        rows += [
            Figure(
                f"{title} (subscriptions/s)",
                rate,
                "/s",
                f"≥ {RENEWALS_TARGET:,}/s",
                rate / RENEWALS_TARGET if rate else None,
                bool(rate and rate >= RENEWALS_TARGET),
            ),
            Figure(
                "   peak RSS" if mode == "single_process" else "   peak RSS of one worker",
                rss,
                "MB",
                f"≤ {RSS_LIMIT_MB} MB",
                rss / RSS_LIMIT_MB if rss else None,
                bool(rss and rss <= RSS_LIMIT_MB),
            ),
        ]
    if "single_process" in renewals and "celery_2_workers" in renewals:
        single = renewals["single_process"].get("subscriptions_per_second")
        fanned = renewals["celery_2_workers"].get("subscriptions_per_second")
        if single and fanned:
            rows.append(
                Figure(
                    "   fan-out speed-up (2 workers / 1)",
                    fanned / single,
                    "×",
                    "> 1 (scales out)",
                    None,
                    fanned > single,
                )
            )
    rows.append(
        Figure("4. pgbench TPC-B-like, 4 clients (tps)", pgbench.get("tps"), "/s", "for scale")
    )
    return rows


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "ms":
        return f"{value:,.1f} ms"
    if unit == "×":
        return f"{value:.2f}×"
    if unit == "MB":
        return f"{value:,.0f} MB"
    return f"{value:,.1f}/s" if value < 100 else f"{value:,.0f}/s"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def table(rows: list[Figure]) -> str:
    lines = [("figure", "value", "target", "ratio", "result", "CPU ratio")]
    for row in rows:
        result = "" if row.passed is None else ("pass" if row.passed else "FAIL")
        lines.append(
            (
                row.name,
                _number(row.value, row.unit),
                row.target,
                _percent(row.ratio),
                result,
                _percent(row.cpu_ratio),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(6)]
    out = []
    for number, line in enumerate(lines):
        out.append(
            "  ".join(
                cell.ljust(width) if i in (0, 2) else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(line, widths, strict=True))
            ).rstrip()
        )
        if number == 0:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def markdown_table(rows: list[Figure]) -> str:
    out = [
        "| figure | value | target | ratio | result | CPU ratio |",
        "| --- | ---: | --- | ---: | --- | ---: |",
    ]
    for row in rows:
        result = "" if row.passed is None else ("pass" if row.passed else "**fail**")
        cells = (
            row.name.strip(),
            _number(row.value, row.unit),
            row.target,
            _percent(row.ratio),
            result,
            _percent(row.cpu_ratio),
        )
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


# -- The run ---------------------------------------------------------------------------------------


def _summary(bench: Bench) -> dict:
    out = {}
    for label, phase in bench.phases.items():
        out[label] = {
            "requests": phase.requests,
            "seconds": round(phase.seconds, 2),
            "requests_per_second": round(phase.requests / phase.seconds, 1)
            if phase.seconds
            else None,
            "p50_ms": round(_ms(bench, label, 0.5), 1) if bench.recorder.count(label) else None,
            "p95_ms": round(_ms(bench, label, 0.95), 1) if bench.recorder.count(label) else None,
            **phase.per_request_ms(),
        }
    return out


def _failures(recorder: Recorder) -> dict:
    return {label: dict(counter) for label, counter in recorder.failures.items() if counter}


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
    rows = figures(bench, renewals, pgbench)
    failures = {"measured": _failures(bench.recorder), "warm_up": _failures(bench.warmup)}
    ok = not verification["problems"] and not any(failures.values())
    import gunicorn

    report = {
        "benchmark": "make bench (bench/run.py)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": ok,
        "config": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in asdict(config).items()
        },
        "server": {
            "gunicorn_workers": WORKERS,
            "worker_class": "sync",
            "debug": False,
            "conn_max_age": int(os.environ.get("CONN_MAX_AGE", "60")),
            "confirmation_email": "counted, not published (bench/wsgi.py)",
        },
        "figures": [asdict(row) for row in rows],
        "phases": _summary(bench),
        "failures": failures,
        "verification": verification,
        "renewals": renewals,
        "pgbench": pgbench,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "gunicorn": gunicorn.__version__,
            **versions,
        },
        "markdown_table": markdown_table(rows),
    }
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print()
    print(table(rows))
    print()
    v = verification
    print(
        f"Checked: {v['orders']:,} orders in the database for {v['orders_seen_by_client']:,}"
        f" redirects to an order page; payments {v['payments']};"
        f" {v['amount_due_total']} due = {v['amount_paid_total']} paid;"
        f" {v['licenses_added']:,} licenses added; {v['seat_changes']:,} seat changes."
    )
    for problem in v["problems"]:
        print(f"PROBLEM: {problem}")
    for phase, by_label in failures.items():
        for label, reasons in by_label.items():
            print(f"FAILED requests ({phase}) {label}: {reasons}")
    load = report["machine"]
    print(
        f"{load['cpus']} CPUs; load average {load['load_average_before'][0]} before,"
        f" {load['load_average_after'][0]} after. Written to {config.output.relative_to(ROOT)}"
        if config.output.is_relative_to(ROOT)
        else f"Written to {config.output}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
