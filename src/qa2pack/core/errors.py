"""The one exception hierarchy of qa2pack and its exit-code table.

Every user mistake or refused operation is a :class:`Qa2packError` whose ``str()`` is one
line; the CLI prints that line and returns :func:`exit_code_for` it.  Anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# Exit codes: one table, used by every command.
EXIT_OK = 0
EXIT_VERIFY_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_FAILED_MIDRUN = 3
EXIT_INTERRUPTED = 130


# -- whether a run has written anything (exit 2 promises it has not) --------------------------

_WRITES: ContextVar[list[str] | None] = ContextVar("qa2pack_writes", default=None)


def note_writing(what: str) -> None:
    """Record that the current run starts writing (its first write decides exit 2 or 3)."""
    writes = _WRITES.get()
    if writes is not None and not writes:
        writes.append(what)


@contextmanager
def tracking_writes() -> Iterator[list[str]]:
    """Track the writes of one run: the list holds the first thing written, if any."""
    writes: list[str] = []
    token = _WRITES.set(writes)
    try:
        yield writes
    finally:
        _WRITES.reset(token)


def exit_code_for(error: Qa2packError, wrote: bool) -> int:
    """Return the exit code of a failed run: 2 when nothing was written, 3 once writing started.

    Only the run's writes decide it, never the kind of error; verify's findings alone are 1.
    """
    if isinstance(error, VerifyFailed):
        return EXIT_VERIFY_FAILED
    return EXIT_FAILED_MIDRUN if wrote else EXIT_BAD_INPUT


class Qa2packError(Exception):
    """Base class: a problem the user can act on (the command line makes it one line and an exit code)."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(" ".join(message.split("\n")))
        self.details = tuple(details)


class UsageError(Qa2packError):
    """An option value or combination that cannot work (unknown mode, style, ...)."""


class InputError(Qa2packError):
    """The origin tree, a readme, a config file or a tar cannot be used as given."""


class NoEBProductsError(InputError):
    """Origpath holds no ASDM, and no MS or caltable named after an EB."""


class PackpathError(InputError):
    """Packpath cannot be (re)written: not ours, inside origpath, no package to append to."""


class ConfigError(InputError):
    """The TOML configuration file is unreadable or has unknown or mistyped keys."""


class EphemerisConflictError(InputError):
    """Two ephemerides share a name but differ; packaging would lose one of them."""

    def __init__(self, name: str, first: Path, second: Path) -> None:
        super().__init__(
            f"two ephemeris files named {name} differ: {first} and {second}; "
            "rename one of them (and its fixplanets call) before packaging"
        )


class CrossDeviceError(InputError):
    """Hard links and renames cannot cross file systems."""

    def __init__(self, src: Path, dst: Path, mode: str) -> None:
        what = "hard-link" if mode in ("hard", "ticket") else "move"
        super().__init__(
            f"cannot {what} {src} into {dst}: they are on different file systems; use --mode copy"
        )


class PreflightError(Qa2packError):
    """Several problems found before the first write; all of them are listed."""

    def __init__(self, problems: Sequence[str]) -> None:
        if len(problems) == 1:
            message = problems[0]
        else:
            listed = "; ".join(f"({n}) {p}" for n, p in enumerate(problems, 1))
            message = f"{len(problems)} problems, nothing was written: {listed}"
        super().__init__(message, problems)


class LockBusyError(Qa2packError):
    """Another run holds the package, delivery or restore folder this run needs."""


class PipelineRunError(InputError):
    """A folder that is not an ALMA Science Pipeline run, or a PPR that cannot be read."""


class UnsafeArchiveError(InputError):
    """A tar member that would write outside the target, or a link or device file."""


class RestoreError(InputError):
    """Restore preparation cannot go on (missing ASDM, calibrated/ exists, no space)."""


class ExecutionError(Qa2packError):
    """Failed while carrying out a plan; what was written is removed or marked as incomplete."""


class VerifyFailed(Qa2packError):
    """``verify`` found missing, extra or corrupted files, or a failed ingest check."""

    def __init__(self, message: str, problems: Sequence[str]) -> None:
        super().__init__(message, problems)
        self.problems = tuple(problems)
