"""Hashing a package ahead of its verify: a child hashes the manifest's files while the command line loads.

A verify of many small files spends its first 70 ms or so loading modules and reading the
manifest on one core while the other is idle, and its hashing (which keeps both cores busy) only
starts after that.  So ``verify PACKPATH`` first forks a child that takes the package's shared
lock, as the verify itself does, reads the manifest, splits its files into the runs the verify
will make, and hashes them from the first, reporting each run on a pipe as the verify's helper
does (:mod:`qa2pack.core.forked`).  It makes the runs as it reads the manifest's rows, so it
hashes the first run once the few thousand rows that decide the runs' length are read.  The
verify adopts the child as that helper when its own runs are the same files in the same order:
the runs are a function of the manifest's bytes and the package's path, and the child first
sends the key of those (:func:`~qa2pack.formats.manifest.runs_key`); else it stops the child and
forks a helper of its own.

The child holds the shared lock from before it reads the manifest until it is stopped, and the
verify stops it only while holding the lock itself: every hash it adopts was made while no run
could write the package.  Having hashed its runs, the child waits, still holding the lock, to be
stopped; it ends by itself soon after the verify is gone.
"""

from __future__ import annotations

import os
import select
import time

from ..core.child import Slot, check_run, fork_child, stop_child, write_all

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.cli)
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from typing import List, Tuple

    from ..core.forked import Helper

    Runs = List[List[Tuple[str, str]]]

WORKERS = 2  # the verify's hashing: this process and one helper
# How long the verify waits for the child to say which runs it hashes (it normally has, long before).
HEADER_WAIT_S = 2.0
_IDLE_CHECK_S = 0.05  # how often a child that has hashed its runs looks whether the verify is still there

_slot = Slot()  # the child hashing a package, until its verify takes it


def _hash_ahead(root: str, out: int, run: int) -> None:
    """Lock, read the manifest, send its runs' key, hash the runs, and hold the lock until stopped (in the child).

    It loads only what it needs (the lock file, the manifest's rows, md5): each module the
    verify loads meanwhile is one it does not wait for.  Any error ends it; the verify then
    hashes on its own.
    """
    from ..formats.md5runs import manifest_file, runs_reading, serve_hashes
    from ..run.lockfile import hold_lock_file, lock_file_of

    try:
        hold_lock_file(lock_file_of(root), False, "verify")  # held until this child ends
    except OSError:
        return  # another run writes the package, or no lock file can be made there
    key, runs = runs_reading(manifest_file(root), root, WORKERS)
    write_all(out, key.encode() + b"\n")
    serve_hashes(runs, out, run)
    while True:  # the verify may not hold the lock yet: keep it until the verify stops this child
        check_run(run)
        time.sleep(_IDLE_CHECK_S)


class HashAhead:
    """The child that hashes one package ahead of its verify."""

    def __init__(self, packpath: str) -> None:
        self.root = os.path.abspath(packpath)
        self.pid, self._read = fork_child(lambda out, run: _hash_ahead(self.root, out, run))

    def adopt(self, key: str, runs: Runs) -> Helper[list[tuple[str, str]]] | None:
        """Return the child as the helper for these runs if it hashes the runs of this key; else stop it, return None.

        ``key`` names the verify's runs (:func:`~qa2pack.formats.manifest.runs_key`).
        """
        from ..core.forked import Helper

        if self.pid:
            header, received = self._header()
            if header is not None and header == key.encode():
                pid, self.pid = self.pid, 0
                return Helper.running(runs, pid, self._read, received)
        self.close()
        return None

    def _header(self) -> tuple[bytes | None, bytes]:
        """Return the runs' key the child sent (None if it ended or said nothing in time) and what followed."""
        data = b""
        deadline = time.monotonic() + HEADER_WAIT_S
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                return None, b""
            received = os.read(self._read, 1 << 16)
            if not received:  # it ended: the package was busy, or had no manifest
                return None, b""
            data += received
        header, _, rest = data.partition(b"\n")
        return header, rest

    def close(self) -> None:
        """Stop the child if it was not adopted (it may have ended already), and remove the lock file it leaves."""
        if self.pid:
            stop_child(self.pid)
            self.pid = 0
            os.close(self._read)
            _remove_lock_file(self.root)


def _remove_lock_file(root: str) -> None:
    """Hold and release the package shared, as a verify does: the last holder removes the lock file."""
    from pathlib import Path

    from ..core.errors import Qa2packError
    from ..run.lock import RunLock, Want

    try:
        with RunLock([Want(Path(root), exclusive=False)], "verify"):
            pass
    except Qa2packError:
        pass  # a writer holds it (the child never did): the lock file is the writer's


def hashing_ahead(packpath: str | None) -> AbstractContextManager[None]:
    """Hash a package's files in a child while a ``with`` block runs; the block's verify of it adopts the child.

    Nothing happens where an outer block already hashes ahead, or where packpath is None or not a folder.
    """
    return _slot.during(lambda: HashAhead(packpath) if packpath is not None and os.path.isdir(packpath) else None)


def take(packpath: str) -> HashAhead | None:
    """Return the child hashing this package ahead of its verify (once; None if there is none).

    A child hashing another folder is stopped.  The caller adopts the child or closes it, while
    it holds the package's lock.
    """
    ahead = _slot.take()
    if ahead is not None and (not isinstance(ahead, HashAhead) or ahead.root != os.path.abspath(packpath)):
        ahead.close()
        return None
    return ahead
