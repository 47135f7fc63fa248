"""A JOBS file: one qa2pack command line a line, ``#`` comments; checked whole before anything runs."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from ..core.errors import InputError, Qa2packError
from ..core.record import field, record
from ..formats.atomic import read_user_text

# Commands a JOBS line may not run: a batch inside a batch, or a helper that only prints.
NOT_IN_A_BATCH = ("batch", "batch-jobs", "demo")


@record
class Job:
    """One line of a JOBS file: its number (from 1) and its words, without a leading ``qa2pack``."""

    number: int
    argv: tuple[str, ...]

    @property
    def command(self) -> str:
        """The line as the ledger keys it."""
        return command_line(self.argv)


def command_line(argv: Sequence[str]) -> str:
    """Return the words of a line, quoted the way a shell would read them back."""
    return " ".join(shlex.quote(word) for word in argv)


@record(frozen=False)
class BatchPlan:
    """What a batch run does with each line, decided from the JOBS file and the ledger."""

    run: list[Job] = field(default_factory=list)
    done_before: list[Job] = field(default_factory=list)  # succeeded in an earlier run: skipped
    failed_before: list[Job] = field(default_factory=list)  # failed earlier, not retried: still a failure


def parse_jobs(text: str, source: str = "JOBS", check: Callable[[Sequence[str]], None] | None = None) -> list[Job]:
    """Return the jobs of a JOBS file's text, or refuse it with every bad line named.

    ``check`` is called with each line's words and raises :class:`Qa2packError` for a line the CLI
    would refuse, so a typo on line 900 stops the batch before line 1 runs.
    """
    jobs: list[Job] = []
    problems: list[str] = []
    first_seen: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        if words[:1] == ["qa2pack"]:
            words = words[1:]
        if not words:
            continue
        argv = tuple(words)
        problem = _line_problem(argv, first_seen.get(argv), check)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        first_seen[argv] = number
        jobs.append(Job(number, argv))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise InputError(f"{source}: nothing was run: {shown}")
    if not jobs:
        raise InputError(f"{source} holds no command lines")
    return jobs


def _line_problem(argv: tuple[str, ...], repeats: int | None,
                  check: Callable[[Sequence[str]], None] | None) -> str | None:
    if argv[0] in NOT_IN_A_BATCH:
        return f"'{argv[0]}' cannot run inside a batch"
    if repeats is not None:
        return f"repeats line {repeats} (the two would run at once on the same data)"
    if check is not None:
        try:
            check(argv)
        except Qa2packError as exc:
            return str(exc)
    return None


def read_jobs(path: Path, check: Callable[[Sequence[str]], None] | None = None) -> list[Job]:
    """Read and check the JOBS file at ``path``."""
    return parse_jobs(read_user_text(path, "JOBS file", errors="strict"), str(path), check)


def plan_batch(jobs: Iterable[Job], last_exit: Mapping[str, int], retry_failed: bool = False) -> BatchPlan:
    """Decide which lines run: new ones, and earlier failures when ``retry_failed``.

    ``last_exit`` maps a line's command to the exit code of its latest finished run (the ledger).
    """
    plan = BatchPlan()
    for job in jobs:
        code = last_exit.get(job.command)
        if code is None or (code != 0 and retry_failed):
            plan.run.append(job)
        elif code == 0:
            plan.done_before.append(job)
        else:
            plan.failed_before.append(job)
    return plan
