"""What the batch tests share: deliveries to check, ledgers to read, and real Dask processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

MOUS = "uid___A001_X121_X229"


def linked_copies(delivery: Path, archive: Path, count: int) -> list[Path]:
    """``count`` deliveries under ``archive``, hard links of one (the same bytes, no extra disk)."""
    copies = []
    for n in range(count):
        folder = archive / f"{n:03d}" / delivery.name
        folder.mkdir(parents=True)
        for path in delivery.iterdir():
            os.link(path, folder / path.name)
        copies.append(folder)
    return copies


def corrupt(folder: Path) -> Path:
    """Give one delivery a tar whose bytes changed (its own copy, so the links elsewhere keep theirs)."""
    tar = sorted(folder.glob("*.tar"))[0]
    data = bytearray(tar.read_bytes())
    data[700] ^= 0xFF  # inside the first member's data
    tar.unlink()
    tar.write_bytes(bytes(data))
    return tar


def ledger_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_until(condition, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.05)


class DaskProcesses:
    """A ``dask scheduler`` and ``dask worker`` processes, as an operator would start them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []

    def _start(self, module: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{module.rsplit('_', 1)[-1]}-{len(self.processes)}.log", "wb")  # noqa: SIM115
        self.logs.append(log)
        process = subprocess.Popen([sys.executable, "-m", f"distributed.cli.{module}", *args], stdout=log,
                                   stderr=subprocess.STDOUT, cwd=self.folder)
        self.processes.append(process)
        return process

    def start_scheduler(self) -> str:
        self._start("dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                    "--scheduler-file", str(self.scheduler_file))
        wait_until(self.scheduler_file.exists, 60, "the scheduler to start")
        wait_until(lambda: "address" in self.scheduler_file.read_text(), 10, "the scheduler file")
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self._start("dask_worker", "--scheduler-file", str(self.scheduler_file), "--nthreads", "1",
                             "--no-nanny", "--no-dashboard", "--host", "127.0.0.1")
        self.workers.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(scheduler_file=str(self.scheduler_file), timeout="30s") as client:
            client.wait_for_workers(count, timeout=60)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()
