"""The log file of one run, ``<packpath>.qa2pack.log``, written whatever the caller's logging setup.

The library configures no logging: it never sets a level and adds a handler only for the length
of a run.  The run's own account (plan, members, findings, every path not packaged) always
reaches the file; it also goes to the ``qa2pack`` logger when the caller's levels let it through,
and whatever other qa2pack modules log during the run (at the caller's levels) reaches the file too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOGGER = logging.getLogger("qa2pack")


class _EscapingFormatter(logging.Formatter):
    """Write names that are not UTF-8 (reported, never packaged) escaped instead of failing the log."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).encode("utf-8", "backslashreplace").decode("utf-8")


def log_path_of(packpath: Path) -> Path:
    """Return where a run on packpath writes its log: ``<packpath>.qa2pack.log`` beside it."""
    return packpath.parent / f"{packpath.name}.qa2pack.log"


class RunLog:
    """The account of one run: to the file always, to the ``qa2pack`` logger as the caller's levels allow."""

    def __init__(self, handler: logging.Handler, path: Path) -> None:
        self._handler = handler
        self.path = path

    def write(self, level: int, message: str, *args: object) -> None:
        """Record one line of the run's account."""
        if LOGGER.isEnabledFor(level):
            LOGGER.log(level, message, *args)  # the handler attached for the run writes it to the file
        else:
            self._handler.handle(LOGGER.makeRecord(LOGGER.name, level, __file__, 0, message, args, None))

    def info(self, message: str, *args: object) -> None:
        """Record a line of the account."""
        self.write(logging.INFO, message, *args)

    def warning(self, message: str, *args: object) -> None:
        """Record something the analyst should look at."""
        self.write(logging.WARNING, message, *args)

    def detail(self, message: str, *args: object) -> None:
        """Record a detail only the file needs (each path not packaged)."""
        self.write(logging.DEBUG, message, *args)


@contextmanager
def run_log(packpath: Path, appending: bool) -> Iterator[RunLog]:
    """Open the run's log file (appended to when the run appends to a package) for the length of the run."""
    path = log_path_of(packpath)
    handler = logging.FileHandler(path, mode="a" if appending else "w", encoding="utf-8")
    handler.setFormatter(_EscapingFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    LOGGER.addHandler(handler)
    try:
        yield RunLog(handler, path)
    finally:
        LOGGER.removeHandler(handler)
        handler.close()
