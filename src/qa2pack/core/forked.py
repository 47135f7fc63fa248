"""A second process that does part of a run's many small system calls (links, hashes of small files).

Two threads of one Python process make links no faster than one: every ``os.link`` returns to
the interpreter lock, and the threads queue for it (small files hash the same way).  Two
processes do nearly twice the work, because the kernel serves them in parallel.  So a run with
many links or files to hash forks one helper that does its share while the run does the rest.

The helper inherits the plan's names and the run's locks (it holds them while it lives), does
only its jobs, reports each on a pipe (with its results), and stops at the first failure, saying
how far it got.  The run then does what the helper left on its ordinary path, which reports any
error as it always does.  The helper ends when the run ends (the run kills and waits for it on
any failure) and stops by itself within a few hundred files if the run is killed.
"""

from __future__ import annotations

import os
import select
from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from .child import check_run, fork_child, open_folder, serve, stop_child

if TYPE_CHECKING:
    from .child import Work

CHECK_EVERY = 256  # files between two looks at whether the run is still there

Job = TypeVar("Job")


class Report(NamedTuple):
    """One job the helper ended: how many of its files it did, whether that was all, their results."""

    job: int
    done: int
    complete: bool
    payload: bytes


def share(weights: Sequence[int]) -> list[int]:
    """Return the indices of jobs for the helper: about half of the weight, heaviest jobs first."""
    mine = theirs = 0
    helper: list[int] = []
    for index in sorted(range(len(weights)), key=lambda i: -weights[i]):
        if theirs < mine:
            helper.append(index)
            theirs += weights[index]
        else:
            mine += weights[index]
    return sorted(helper)


class Helper(Generic[Job]):
    """The forked helper of one run: start it, take what it finished, then wait for it."""

    def __init__(self, jobs: Sequence[Job], work: Work[Job]) -> None:
        self._adopt(jobs, *fork_child(lambda out, run: serve(jobs, work, out, run)))

    @classmethod
    def running(cls, jobs: Sequence[Job], pid: int, read: int, received: bytes = b"") -> Helper[Job]:
        """Return the helper of a child that already does these jobs (:func:`serve` on the pipe ``read``)."""
        helper = cls.__new__(cls)
        helper._adopt(jobs, pid, read, received)
        return helper

    def _adopt(self, jobs: Sequence[Job], pid: int, read: int, received: bytes = b"") -> None:
        self.jobs = jobs
        self.finished: list[int] = []
        self.stopped: Report | None = None
        self.lost = ""  # why the helper ended without saying where it stopped, if it did
        self.gone = False  # its pipe ended: it reports nothing more
        self._buffer = received  # what the child sent that was read before it was adopted
        self.pid, self._read = pid, read
        os.set_blocking(self._read, False)

    def poll(self) -> list[Report]:
        """Return the jobs ended since the last call (never waits)."""
        try:
            data = os.read(self._read, 1 << 16)
        except BlockingIOError:
            data = b""  # nothing new: what was received before it was adopted may still be taken
        else:
            self.gone = not data
        return self._take(data)

    def next_reports(self) -> list[Report]:
        """Wait until the helper ends one more job, or ends; return the jobs ended since the last call (none: it is gone)."""
        while not self.gone:
            select.select([self._read], [], [])
            if reports := self.poll():
                return reports
        return []

    def _take(self, data: bytes) -> list[Report]:
        self._buffer += data
        reports = []
        while b"\n" in self._buffer:
            header, _, rest = self._buffer.partition(b"\n")
            index, done, complete, size = map(int, header.split())
            if len(rest) < size:
                break
            report = Report(index, done, bool(complete), rest[:size])
            self._buffer = rest[size:]
            reports.append(report)
            if report.complete:
                self.finished.append(index)
            else:
                self.stopped = report
        return reports

    def wait(self) -> list[Report]:
        """Wait for the helper to end; return the jobs ended since the last poll.

        If it ended without saying where it stopped (it was killed), :attr:`lost` says so: the
        jobs it did not report are in :meth:`left`, but one of them may be half done.
        """
        os.set_blocking(self._read, True)
        reports = []
        while data := os.read(self._read, 1 << 16):
            reports += self._take(data)
        os.close(self._read)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if status != 0 and self.stopped is None:
            self.lost = f"the helper process ended unexpectedly (wait status {status})"
        return reports

    def left(self) -> list[tuple[int, int]]:
        """After :meth:`wait`: (job, files already done) of every job the helper did not finish."""
        finished = set(self.finished)
        stopped = self.stopped
        return [(index, stopped.done if stopped is not None and stopped.job == index else 0)
                for index in range(len(self.jobs)) if index not in finished]

    def kill(self) -> None:
        """End the helper now and wait for it (the run failed or was stopped)."""
        if self.pid:
            stop_child(self.pid)
            self.pid = 0
            os.close(self._read)


# -- links ------------------------------------------------------------------------------------

class LinkJob(NamedTuple):
    """Link ``names`` into ``target``: each from the same name in ``source``, or all from ``empty``."""

    source: str
    empty: str
    target: str
    names: Sequence[str]


def link_job(job: LinkJob, run: int) -> tuple[int, bool, bytes]:
    """Link one job's names (in the helper); stop at the first that fails."""
    try:
        target = open_folder(job.target)
    except OSError:
        return 0, False, b""
    try:
        source = open_folder(job.source) if not job.empty else -1
    except OSError:
        os.close(target)
        return 0, False, b""
    try:
        link, names = os.link, job.names
        for start in range(0, len(names), CHECK_EVERY):
            check_run(run)
            for offset, name in enumerate(names[start:start + CHECK_EVERY]):
                try:
                    if source < 0:
                        link(job.empty, name, dst_dir_fd=target)
                    else:
                        link(name, name, src_dir_fd=source, dst_dir_fd=target)
                except OSError:
                    return start + offset, False, b""
        return len(names), True, b""
    finally:
        os.close(target)
        if source >= 0:
            os.close(source)


class LinkHelper(Helper[LinkJob]):
    """A helper that makes links."""

    def __init__(self, jobs: Sequence[LinkJob]) -> None:
        super().__init__(jobs, link_job)
