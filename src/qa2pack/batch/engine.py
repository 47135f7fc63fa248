"""Drive a JOBS file's lines through Dask workers: a local cluster, a running scheduler, or a site's queue.

Dask gives the scheduling and the recovery: a line whose worker is lost is run again on another
worker (up to Dask's ``distributed.scheduler.allowed-failures`` times, then it counts as failed).
qa2pack adds the ledger (each line recorded as it finishes, so a stopped batch resumes where it
stopped), one lock per JOBS file (two batches never run the same file at once) and the locks
every command takes on its own data (a line never runs twice at once on the same package, even
on two machines that share the file system).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..core.config import BatchSettings
from ..core.errors import EXIT_FAILED_MIDRUN, InputError, UsageError
from ..core.record import field, record
from ..run.lock import RunLock, Want
from ..run.progress import counted
from .jobs import Job, plan_batch, read_jobs
from .ledger import Ledger, LineResult, last_exit_codes, ledger_path, read_ledger
from .task import run_line

CLUSTER_KINDS = ("slurm", "htcondor")
INSTALL_HINT = "pip install 'qa2pack[batch]'"
CONNECT_TIMEOUT = "10s"  # to a scheduler given by address
# The scheduler's web server (dashboard, health) on a free port: older Dask versions start it on
# 8787 even without a dashboard, so two batches on one machine would collide.
NO_FIXED_PORT = ":0"
_REFRESH_SECONDS = 0.5


@record
class Where:
    """Where the lines run: a scheduler address, a site's queue, or (neither) a cluster on this machine."""

    scheduler: str | None = None
    cluster: str | None = None
    workers: int | None = None  # local worker processes, or batch jobs on a site (default: settings)
    settings: BatchSettings = BatchSettings()

    def describe(self) -> str:
        """Say where, for the terminal and the report."""
        if self.scheduler:
            return f"the Dask scheduler at {self.scheduler}"
        if self.cluster:
            return f"{self.cluster} jobs"
        return f"a local Dask cluster of {counted(self.local_workers(), 'worker process', 'worker processes')}"

    def local_workers(self) -> int:
        """Return the worker processes of a local cluster."""
        return self.workers or os.cpu_count() or 1


class BatchDisplay(Protocol):
    """What a batch shows while it runs (a progress bar on a terminal, nothing otherwise)."""

    def start(self, total: int) -> None:
        """Begin, with the number of lines to run."""

    def running(self, count: int) -> None:
        """Show how many lines run now."""

    def finished(self, result: LineResult) -> None:
        """Count one finished line."""

    def stop(self) -> None:
        """End the display."""


class SilentDisplay:
    """Show nothing (``--json``, ``--quiet``, CI, no terminal)."""

    def start(self, total: int) -> None:
        """Ignore the start."""

    def running(self, count: int) -> None:
        """Ignore the running count."""

    def finished(self, result: LineResult) -> None:
        """Ignore a finished line."""

    def stop(self) -> None:
        """Ignore the end."""


@record(frozen=False)
class BatchReport:
    """What a batch run did, and what the ledger says about the lines it skipped."""

    jobs_path: Path
    ledger: Path
    where: str
    total: int
    results: list[LineResult] = field(default_factory=list)  # finished in this run
    done_before: list[Job] = field(default_factory=list)
    failed_before: list[LineResult] = field(default_factory=list)  # their latest records
    not_finished: list[Job] = field(default_factory=list)  # the batch stopped before they finished
    interrupted: bool = False

    @property
    def failed(self) -> list[LineResult]:
        """Every line whose latest run failed, this run's or an earlier one's."""
        return sorted([r for r in self.results if not r.ok] + self.failed_before, key=lambda r: r.line)

    @property
    def ok(self) -> bool:
        """Tell whether every line has succeeded."""
        return not self.failed and not self.not_finished

    def summary(self) -> str:
        """One line: the verdict and the counts."""
        succeeded = sum(1 for r in self.results if r.ok)
        parts = [f"{succeeded} succeeded", f"{len(self.failed)} failed"]
        if self.done_before:
            parts.append(f"{len(self.done_before)} done before (skipped)")
        if self.not_finished:
            parts.append(f"{len(self.not_finished)} not run yet")
        verdict = "stopped" if self.interrupted else ("OK" if self.ok else "FAILED")
        ran = f" on {self.where}" if self.results else ""
        return (f"{verdict}: {self.jobs_path}: {counted(self.total, 'line')}{ran}: {', '.join(parts)}; "
                f"ledger {self.ledger}")

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``batch --json``): every line with its state."""
        lines: dict[int, dict[str, Any]] = {}
        for job in self.done_before:
            lines[job.number] = {"line": job.number, "command": job.command, "state": "done before"}
        for line_result in self.failed_before:
            lines[line_result.line] = {**line_result.to_json(), "state": "failed before"}
        for line_result in self.results:
            lines[line_result.line] = {**line_result.to_json(), "state": "succeeded" if line_result.ok else "failed"}
        for job in self.not_finished:
            lines[job.number] = {"line": job.number, "command": job.command, "state": "not run"}
        return {"jobs": str(self.jobs_path), "ledger": str(self.ledger), "where": self.where, "ok": self.ok,
                "interrupted": self.interrupted, "summary": self.summary(),
                "lines": [lines[number] for number in sorted(lines)]}


def check_line(argv: Sequence[str]) -> None:
    """Refuse a line the CLI would refuse to parse (a typo, a missing argument)."""
    from ..cli.parser import build_parser

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            build_parser(argv).parse_args(list(argv))
    except SystemExit:
        raise UsageError("only prints help or the version") from None


def run_batch(jobs_path: Path, where: Where = Where(), retry_failed: bool = False,
              display: BatchDisplay | None = None, wait: bool = False) -> BatchReport:
    """Run every line of ``jobs_path`` not yet done, recording each in the ledger as it finishes."""
    display = display or SilentDisplay()
    jobs = read_jobs(jobs_path, check_line)
    ledger_file = ledger_path(jobs_path)
    report = BatchReport(jobs_path, ledger_file, where.describe(), len(jobs))
    with RunLock([Want(ledger_file, exclusive=True)], "batch", wait=wait):
        records = read_ledger(ledger_file)
        plan = plan_batch(jobs, last_exit_codes(records), retry_failed)
        latest = {record.command: record for record in records}
        report.done_before = plan.done_before
        report.failed_before = [_renumbered(latest[job.command], job) for job in plan.failed_before]
        if not plan.run:
            return report
        folder = str(jobs_path.resolve().parent)
        with open_client(where) as client, Ledger(ledger_file) as ledger:
            _drive(client, plan.run, folder, ledger, display, report)
    return report


def _renumbered(record: LineResult, job: Job) -> LineResult:
    record.line = job.number  # the JOBS file may have been edited since: report today's line number
    return record


def _drive(client: Any, jobs: list[Job], folder: str, ledger: Ledger, display: BatchDisplay,
           report: BatchReport) -> None:
    batch = uuid.uuid4().hex[:8]
    futures = {client.submit(run_line, job.number, job.argv, folder, key=f"qa2pack-{batch}-line-{job.number}",
                             pure=False): job for job in jobs}
    pending = set(futures)
    display.start(len(jobs))
    try:
        while pending:
            try:
                done, pending = _distributed().wait(pending, timeout=_REFRESH_SECONDS, return_when="FIRST_COMPLETED")
            except (TimeoutError, asyncio.TimeoutError):
                display.running(_running(client))
                continue
            for future in sorted(done, key=lambda f: futures[f].number):
                result = _result_of(future, futures[future])
                ledger.record(result)
                report.results.append(result)
                display.finished(result)
    except KeyboardInterrupt:
        report.interrupted = True
        client.cancel(list(pending))
        report.not_finished = sorted((futures[f] for f in pending), key=lambda job: job.number)
    finally:
        display.stop()


def _result_of(future: Any, job: Job) -> LineResult:
    try:
        result: LineResult = future.result()
    except Exception as exc:  # noqa: BLE001 - the worker died too often, or could not run the task
        name = type(exc).__name__
        why = "its worker was lost too many times" if name == "KilledWorker" else f"{name}: {exc}"
        return LineResult(job.number, job.command, EXIT_FAILED_MIDRUN, f"not finished: {why}")
    result.line = job.number
    return result


def _running(client: Any) -> int:
    try:
        queued: int = sum(len(keys) for keys in client.processing().values())
        threads: int = sum(client.nthreads().values())
    except Exception:  # noqa: BLE001 - a display refresh must never stop the batch
        return 0
    return min(queued, threads)


# -- where the workers come from ------------------------------------------------------------------


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise InputError(f"qa2pack batch runs on Dask, which is not installed: {INSTALL_HINT}") from None
    return distributed


def jobqueue_options(kind: str, settings: BatchSettings) -> dict[str, Any]:
    """Return the dask-jobqueue arguments for a site: one worker process per core, one task at a time each."""
    options: dict[str, Any] = {"cores": settings.cores, "processes": settings.cores, "memory": settings.memory,
                               "scheduler_options": {"dashboard_address": NO_FIXED_PORT}}
    if kind == "slurm":
        options["walltime"] = settings.walltime
        if settings.queue:
            options["queue"] = settings.queue
        if settings.account:
            options["account"] = settings.account
    elif kind == "htcondor":
        options["disk"] = settings.disk
    else:
        raise UsageError(f"unknown cluster {kind!r}; known: {', '.join(CLUSTER_KINDS)}")
    return options


def jobqueue_cluster(kind: str, settings: BatchSettings) -> Any:
    """Make (without submitting any job yet) the dask-jobqueue cluster of a site."""
    options = jobqueue_options(kind, settings)
    try:
        from dask_jobqueue.htcondor import HTCondorCluster
        from dask_jobqueue.slurm import SLURMCluster
    except ImportError:
        raise InputError(f"--cluster {kind} needs dask-jobqueue, which is not installed: {INSTALL_HINT}") from None
    return (SLURMCluster if kind == "slurm" else HTCondorCluster)(**options)


@contextlib.contextmanager
def open_client(where: Where) -> Iterator[Any]:
    """Connect to the workers ``where`` names; close what was started here on the way out."""
    distributed = _distributed()
    if where.scheduler:
        try:
            client = distributed.Client(where.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {where.scheduler}: {exc}") from None
        with client:
            yield client
        return
    if where.cluster:
        cluster = jobqueue_cluster(where.cluster, where.settings)
        cluster.scale(jobs=where.workers or where.settings.workers)
    else:
        cluster = distributed.LocalCluster(n_workers=where.local_workers(), threads_per_worker=1, processes=True,
                                           dashboard_address=NO_FIXED_PORT)
    with cluster, distributed.Client(cluster) as client:
        yield client
