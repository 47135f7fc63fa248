"""Progress reporting, injected into long work: a rich bar on a terminal, silence elsewhere."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import TaskID


class Progress(Protocol):
    """What long-running work reports; implementations decide whether anyone sees it."""

    def start(self, description: str, total_bytes: int, total_files: int) -> None:
        """Begin a phase of work of known size."""

    def expect(self, files: int = 0, nbytes: int = 0) -> None:
        """Add files and bytes to the phase's work (found while it runs)."""

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        """Report files and bytes done since the last call."""

    def finish(self) -> None:
        """End the current phase."""


class SilentProgress:
    """Reports nothing (``--json``, pipes, CI, the Python API by default)."""

    def start(self, description: str, total_bytes: int, total_files: int) -> None:
        """Ignore the start of a phase."""

    def expect(self, files: int = 0, nbytes: int = 0) -> None:
        """Ignore more work."""

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        """Ignore progress."""

    def finish(self) -> None:
        """Ignore the end of a phase."""


class RichProgress:
    """A rich progress bar on stderr: files done, bytes done, time left."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[done]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task: TaskID | None = None
        self._bytes = 0
        self._total_bytes = 0
        self._files = 0

    def start(self, description: str, total_bytes: int, total_files: int) -> None:
        """Show a new bar for one phase."""
        self.finish()
        self._bytes, self._total_bytes = 0, total_bytes
        self._bar.start()
        self._files = total_files
        self._task = self._bar.add_task(description, total=max(total_files, 1), done=self._done())

    def _done(self) -> str:
        return f"{human_bytes(self._bytes)} of {human_bytes(self._total_bytes)}"

    def expect(self, files: int = 0, nbytes: int = 0) -> None:
        """Make the bar longer."""
        if self._task is not None:
            self._files += files
            self._total_bytes += nbytes
            self._bar.update(self._task, total=max(self._files, 1), done=self._done())

    def advance(self, files: int = 0, nbytes: int = 0) -> None:
        """Move the bar forward."""
        if self._task is not None:
            self._bytes += nbytes
            self._bar.update(self._task, advance=files, done=self._done())

    def finish(self) -> None:
        """Remove the bar."""
        if self._task is not None:
            self._bar.stop()
            self._task = None


def human_bytes(size: float) -> str:
    """Return a size as ``12.3 MB`` (decimal units, like the archive's request handler)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} PB"  # pragma: no cover - unreachable


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """Return ``1 tar`` or ``3 tars`` (``plural`` where adding an s is wrong)."""
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def wants_progress(json_mode: bool, quiet: bool = False) -> bool:
    """Tell whether a human is watching: a terminal on stderr, no ``--json``, not under CI."""
    if json_mode or quiet or os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


def make_progress(json_mode: bool, quiet: bool = False) -> Progress:
    """Return the progress reporter that fits how qa2pack was started."""
    return RichProgress() if wants_progress(json_mode, quiet) else SilentProgress()
