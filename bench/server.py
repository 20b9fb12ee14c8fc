"""The server `make bench` measures, and the CPU its processes spend (Linux ``/proc``).

gunicorn with ``WORKERS`` sync workers serving ``bench.wsgi`` on loopback, and a meter
of the CPU seconds of those workers and of their PostgreSQL backends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from bench.database import admin_sql, server_url
from bench.loadgen import Connection

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WORKERS = 2


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
