"""A forked child process and its pipe, with nothing but the standard library's core loaded.

The read-ahead of origpath forks its child before the command line has loaded anything else,
so this module imports only what the interpreter has already loaded at start-up (``_signal``,
not ``signal``, whose enums load much of the rest).
"""

from __future__ import annotations

import fcntl
import gc
import os
import warnings

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.cli)
if TYPE_CHECKING:
    import signal as _signal
    from collections.abc import Callable, Iterable
    from typing import Protocol, TypeVar

    Job = TypeVar("Job")
    # A job's work in the child: (job, run's process id) -> (files done, all of them?, results).
    # It must catch its files' errors itself and stop there: what it returns is how far it got.
    Work = Callable[[Job, int], "tuple[int, bool, bytes]"]

    class Closable(Protocol):
        """A child started ahead: it can be stopped."""

        def close(self) -> None:
            """Stop the child (if it still runs) and release what it holds."""
else:
    import _signal  # signal's functions and constants, without its enums


def fork_child(serve: Callable[[int, int], None]) -> tuple[int, int]:
    """Fork a child that runs ``serve(pipe's write end, run's pid)`` and ends; return (its pid, the read end).

    The child collects no garbage (a collection would touch, and so copy, every page it shares
    with the run), ends at once on Ctrl-C or a scheduler's stop, and never returns to the
    caller's code: whatever ``serve`` raises ends it with status 1.
    """
    read, write = os.pipe()
    resize = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux, Python 3.10+
    if resize is not None:  # room for a few jobs' results between two reads
        try:  # noqa: SIM105 - contextlib is not loaded yet when the read-ahead forks
            fcntl.fcntl(write, resize, 1 << 20)
        except OSError:
            pass
    run = os.getpid()
    with warnings.catch_warnings():  # the child calls nothing that another thread's lock guards
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process (measured by the tests' outcomes)
        status = 1
        try:
            gc.disable()
            _signal.signal(_signal.SIGINT, _signal.SIG_DFL)
            _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)
            os.close(read)
            serve(write, run)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    return pid, read


def stop_child(pid: int) -> None:
    """End a forked child now and wait for it (it may have ended already)."""
    try:  # noqa: SIM105 - as above
        os.kill(pid, _signal.SIGKILL)
    except ProcessLookupError:  # it had just ended
        pass
    os.waitpid(pid, 0)


def write_all(out: int, data: bytes) -> None:
    """Write all of ``data`` to a pipe (a write that a signal interrupts may write only part)."""
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]


def serve(jobs: Iterable[Job], work: Work[Job], out: int, run: int) -> None:
    """Do the jobs in order and report each on the pipe ``out`` (in the child); stop after one left unfinished.

    Each report is a line ``job done complete size`` and then ``size`` bytes of results
    (:class:`~qa2pack.core.forked.Helper` reads them).
    """
    for index, job in enumerate(jobs):
        done, complete, payload = work(job, run)
        write_all(out, b"%d %d %d %d\n" % (index, done, complete, len(payload)) + payload)
        if not complete:
            return


def check_run(run: int) -> None:
    """End a child process if the run that forked it is gone (killed): it must not work on alone."""
    if os.getppid() != run:
        os._exit(1)


def open_folder(path: str) -> int:
    """Open a folder, so that its files are named from it (no whole path resolved for each)."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)


class Slot:
    """Where the child of one kind started ahead of a run's work waits for the work to take it.

    A ``with`` block (:meth:`during`) starts it unless one already waits (an outer block's); the
    work takes it once (:meth:`take`); the block's end closes it if the work did not take it.
    """

    def __init__(self) -> None:
        self.child: Closable | None = None

    def during(self, start: Callable[[], Closable | None]) -> _During:
        """Return the ``with`` block that starts a child with ``start()`` (which may decide to start none)."""
        return _During(self, start)

    def take(self) -> Closable | None:
        """Return the waiting child, if any, and leave the slot empty."""
        child, self.child = self.child, None
        return child


class _During:
    def __init__(self, slot: Slot, start: Callable[[], Closable | None]) -> None:
        self.slot = slot
        self.start = start
        self.child: Closable | None = None

    def __enter__(self) -> None:
        if self.slot.child is None and hasattr(os, "fork"):
            self.child = self.slot.child = self.start()

    def __exit__(self, *exc: object) -> None:
        if self.child is not None:
            if self.slot.child is self.child:
                self.slot.child = None
            self.child.close()
