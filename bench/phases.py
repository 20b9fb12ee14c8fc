"""The measured phases of `make bench`: Place order, the pages, pgbench, renewals.

Each phase adds its wall time, its requests and the CPU spent on both sides to a
``Phase`` of the ``Bench``; bench/report.py turns them into figures.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.database import admin_sql, server_url
from bench.flows import Admin, checkout_place, checkout_prepare, floor_write, page_get
from bench.loadgen import CookieJar, Recorder, run_for, run_jobs
from bench.server import HOST, CpuMeter

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


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
    scaling: bool  # bench/scaling.py after the renewals
    scaling_requests: int  # Billing Center requests per size
    pgbench_seconds: float
    pgbench_scale: int
    keep: bool
    output: Path


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
