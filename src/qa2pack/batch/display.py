"""The batch's progress bar: lines done, failed and running, the rate and the time left."""

from __future__ import annotations

from typing import Any

from ..run.progress import wants_progress
from .engine import BatchDisplay, SilentDisplay
from .ledger import LineResult


class RichBatchDisplay:
    """A rich progress bar on stderr; each failed line is printed above it as it fails."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as RichBar

        self._console = Console(stderr=True)
        self._bar = RichBar(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._task: Any = None
        self._failed = 0
        self._running = 0

    def _counts(self) -> str:
        return f"{self._failed} failed, {self._running} running"

    def start(self, total: int) -> None:
        """Show the bar."""
        self._bar.start()
        self._task = self._bar.add_task("batch", total=total, counts=self._counts(), rate="")

    def running(self, count: int) -> None:
        """Show how many lines run now."""
        self._running = count
        self._refresh()

    def finished(self, result: LineResult) -> None:
        """Count a finished line, and print it if it failed."""
        if not result.ok:
            self._failed += 1
            self._bar.console.print(f"line {result.line} failed (exit {result.exit_code}): {result.summary}",
                                    markup=False, highlight=False)
        self._refresh(advance=1)

    def _refresh(self, advance: int = 0) -> None:
        if self._task is None:
            return
        self._bar.update(self._task, advance=advance, counts=self._counts())
        task = self._bar.tasks[0]
        if task.elapsed and task.completed:
            self._bar.update(self._task, rate=f"{60 * task.completed / task.elapsed:.1f} lines/min")

    def stop(self) -> None:
        """Remove the bar."""
        if self._task is not None:
            self._bar.stop()
            self._task = None


def make_display(json_mode: bool, quiet: bool = False) -> BatchDisplay:
    """Return the bar on a terminal; nothing under ``--json``, ``--quiet`` or CI."""
    return RichBatchDisplay() if wants_progress(json_mode, quiet) else SilentDisplay()
