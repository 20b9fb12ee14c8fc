"""`make bench`'s figures, targets and table, and the JSON report it writes.

The targets (docs/benchmarks.md): a page at least ``FLOOR_TARGET`` of its floor's
requests/s; renewals of 100,000 at least ``RENEWALS_TARGET`` subscriptions/s in at
most ``RSS_LIMIT_MB`` in one process, and faster fanned out.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.loadgen import Recorder
from bench.phases import Bench, Phase
from bench.scaling import scaling_ok
from bench.server import WORKERS

FLOOR_TARGET = 0.5  # a page's requests/s at least half its floor's
RENEWALS_TARGET = 2_000  # subscriptions per second
RSS_LIMIT_MB = 256


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


def figures(bench: Bench, renewals: dict, pgbench: dict, scaling: dict) -> list[Figure]:
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
    return rows + scaling_figures(scaling)


def scaling_figures(scaling: dict) -> list[Figure]:
    """No targets: each ratio is the figure over the same figure at the smallest size."""
    rows: list[Figure] = []
    points = [p for p in scaling.get("renewals") or [] if "error" not in p]
    for number, point in enumerate(points):
        size, first = point["subscriptions"], points[0]
        versus = f"vs {first['subscriptions']:,}" if number else "—"
        title = "5. Renewals" if number == 0 else "   Renewals"
        for key, name, unit in (
            ("subscriptions_per_second", f"{title} of {size:,} (subscriptions/s)", "/s"),
            ("peak_rss_mb", f"   peak RSS at {size:,}", "MB"),
        ):
            value, base = point.get(key), first.get(key)
            ratio = value / base if number and value and base else None
            rows.append(Figure(name, value, unit, versus, ratio))
    points = [p for p in scaling.get("billing_center") or [] if "error" not in p]
    for number, point in enumerate(points):
        size, first = point["subscriptions"], points[0]
        plural = "subscription" if size == 1 else "subscriptions"
        title = "6. Billing Center" if number == 0 else "   Billing Center"
        versus = f"vs {first['subscriptions']}" if number else "—"
        ratio = point["median_ms"] / first["median_ms"] if number and first["median_ms"] else None
        rows += [
            Figure(f"{title}, {size} {plural} (median)", point["median_ms"], "ms", versus, ratio),
            Figure(f"   queries, {size} {plural}", point["queries"], "queries"),
        ]
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
    if unit == "queries":
        return f"{value:,.0f}"
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


def report_write(
    *,
    config,
    bench: Bench,
    rows: list[Figure],
    verification: dict,
    renewals: dict,
    pgbench: dict,
    scaling: dict,
    load_before: tuple[float, float, float],
    versions: dict,
) -> dict:
    """The run's JSON report, written to ``config.output``; returns it."""
    import gunicorn

    failures = {"measured": _failures(bench.recorder), "warm_up": _failures(bench.warmup)}
    report = {
        "benchmark": "make bench (bench/run.py)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "ok": not verification["problems"] and not any(failures.values()) and scaling_ok(scaling),
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
        "scaling": scaling,
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
    return report


def outcome_print(report: dict, rows: list[Figure], output: Path, root: Path) -> None:
    """The table, the check of the orders, any failed request, and where the JSON went."""
    print()
    print(table(rows))
    print()
    v = report["verification"]
    print(
        f"Checked: {v['orders']:,} orders in the database for {v['orders_seen_by_client']:,}"
        f" redirects to an order page; payments {v['payments']};"
        f" {v['amount_due_total']} due = {v['amount_paid_total']} paid;"
        f" {v['licenses_added']:,} licenses added; {v['seat_changes']:,} seat changes."
    )
    for problem in v["problems"]:
        print(f"PROBLEM: {problem}")
    for phase, by_label in report["failures"].items():
        for label, reasons in by_label.items():
            print(f"FAILED requests ({phase}) {label}: {reasons}")
    for kind, points in (report.get("scaling") or {}).items():
        for point in points:
            if "error" in point:
                print(f"FAILED scaling ({kind}, {point['subscriptions']:,}): {point['error']}")
    load = report["machine"]
    print(
        f"{load['cpus']} CPUs; load average {load['load_average_before'][0]} before,"
        f" {load['load_average_after'][0]} after. Written to {output.relative_to(root)}"
        if output.is_relative_to(root)
        else f"Written to {output}"
    )
