"""The ``qa2pack`` command line: the parser, one function per command, and what they print."""

from __future__ import annotations

import gc
import sys

from ..core.leftovers import kept_to_the_end
from ..delivery.ahead import hashing_ahead
from ..scan.ahead import reading_ahead, reads_ahead

TYPE_CHECKING = False  # not typing's: it is loaded after the children that read ahead are forked
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NoReturn

    from .app import main

__all__ = ["main", "run_and_exit"]


def run_and_exit() -> NoReturn:
    """Run the ``qa2pack`` program (:func:`main`), then exit with its code.

    ``package`` and ``inspect`` start reading origpath ahead (:mod:`qa2pack.scan.ahead`), and
    ``verify`` of a package starts hashing it (:mod:`qa2pack.delivery.ahead`), before the command
    line itself is loaded.  Whatever the run wrote is closed by the end; the objects
    still in memory go with the process, so they are frozen first (the interpreter's last garbage
    collection has nothing to scan: about 10 ms after packaging 10,000 files) and the process
    ends without the interpreter freeing them one by one (:func:`exit_without_teardown`); so
    do the tables a run left (:mod:`qa2pack.core.leftovers`).
    """
    argv = sys.argv[1:]
    with hashing_ahead(_packpath_in(argv)), reading_ahead(_origpath_in(argv)), kept_to_the_end() as _left:
        from .app import main

        code = main()
    gc.freeze()
    exit_without_teardown(code)  # _left is held to here: what the run left goes with the process


def exit_without_teardown(code: int) -> NoReturn:
    """End the process as a normal exit would, but skip the interpreter's teardown.

    The teardown only frees memory the operating system takes back anyway: about 4 ms at the end
    of a ``verify`` of 12,000 files.  The exit handlers still run and the standard streams are
    flushed; while another thread runs, or if a stream cannot be flushed, the exit is the normal
    one (which waits for the thread, or reports the stream) instead.
    """
    import atexit
    import os
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)


def _origpath_in(argv: Sequence[str]) -> str | None:
    """Return the origpath of a ``package`` or ``inspect`` command line written in the usual order.

    It is read before the parser: a guess that is wrong costs only the read-ahead, because the
    scan takes listings only for its own origpath.  A move run reads none (it changes origpath).
    """
    if len(argv) < 2 or argv[0] not in ("package", "inspect") or argv[1].startswith("-"):
        return None
    modes = [b for a, b in zip(argv, argv[1:]) if a == "--mode"] + [a[7:] for a in argv if a.startswith("--mode=")]
    return argv[1] if all(map(reads_ahead, modes)) else None


def _packpath_in(argv: Sequence[str]) -> str | None:
    """Return the package folder of a ``verify`` command line that hashes one against its own manifest.

    It is read before the parser, as for :func:`_origpath_in`: the verify adopts the child only
    for the files it hashes itself.  Tars, another manifest or no checksums: none.
    """
    if argv[:1] != ["verify"] or any(a in ("--no-checksums", "--manifest") or a.startswith("--manifest=")
                                     for a in argv):
        return None
    words = [b for a, b in zip(argv, argv[1:]) if not b.startswith("-") and a != "--config"]
    return words[0] if len(words) == 1 and not words[0].endswith(".tar") else None


def __getattr__(name: str) -> Any:
    if name == "main":
        from .app import main

        return main
    raise AttributeError(f"module 'qa2pack.cli' has no attribute {name!r}")
