"""The measured run of bench/renewals.py, in a process of its own.

``measure`` renews in this process (its peak RSS is the renewal's alone);
``measure_fanned_out`` sends one shard per Celery worker, as
``renew_subscriptions --fan-out N`` does, and waits. Django is imported inside
the functions: the parent process of bench/renewals.py never imports it.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.database import database_url
from bench.renewal_data import AT

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(batch_size: int) -> dict:
    import checkout.tasks
    import renewals.tasks
    from checkout.models import Order
    from payments.gateways import SandboxGateway
    from renewals.run import subscriptions_due, subscriptions_renew

    queued = []

    class CountingConfirmations:
        """Stands in for the email task: counts what would be queued after each commit."""

        def delay(self, order_id: int) -> None:
            queued.append(1)

    checkout.tasks.send_order_confirmation = CountingConfirmations()
    # A declined renewal's email to the billing admins: queued after the batch's commit
    # as in production, counted here (the run is measured, not the email).
    renewals.tasks.send_payment_failed_notice = CountingConfirmations()
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
    from renewals.run import RenewalSummary, subscriptions_due
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
