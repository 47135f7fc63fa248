"""Reading origpath ahead: a child process lists its folders while the command line loads the rest of qa2pack.

A run spends its first 100 ms or so loading modules on one core while the other core is idle.
So ``package`` and ``inspect`` first fork a child that lists origpath's folders in that time (one
``scandir`` and one ``lstat`` per file, never following a link) and sends each folder's listing on
a pipe.  When the scan begins it stops the child and takes what it listed.  The scan lists every
other folder itself, as it always did: those the child did not reach or could not read, those
behind a followed link, and those that changed since the child listed them.

The scan runs under the lock on origpath, and the child listed before it; so each listing is
used only if its folder has not changed since.  A folder's entries cannot change without its
modification time changing; the scan compares that time (and the folder's inode) with the one
the child saw before listing it.  The child leaves out folders whose modification time is too
recent to tell a later change by (the clock that stamps folders is coarse), and the scan takes
nothing if it began long after the child (it waited for another run's lock).
"""

from __future__ import annotations

import os
import sys
import time

from ..core.child import Slot, check_run, fork_child, open_folder, stop_child, write_all

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.cli)
if TYPE_CHECKING:
    from contextlib import AbstractContextManager
    from pathlib import Path
    from typing import List

    # One folder's listing: [0] the folder's path, [1] its "inode:device:mtime", [2] the number n of
    # its plain files, then their n names and their n sizes, then "index:uid:device" for each file
    # whose owner differs from the file before, joined by ";" (the scan keeps one file per owner),
    # then every other entry as its name and FOLDER, LINK or OTHER.
    Listing = List[str]

# A folder changed less than this long before it was listed may change again within the same
# tick of the clock that stamps it: its listing could not be checked, so it is not sent.
RECENT_NS = 2_000_000_000
# The listings are for a scan that begins while the run starts; one that begins later lists anew.
MAX_AGE_S = 10.0
FOLDER, LINK, OTHER = "d", "l", "o"

_slot = Slot()  # the child listing origpath, until the scan takes it


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_dev}:{st.st_mtime_ns}"


def _list_folder(fd: int, path: str, stamp: str) -> tuple[list[str], list[str]]:
    """Return one folder's listing and its subfolders' paths."""
    names: list[str] = []
    sizes: list[str] = []
    owners: list[str] = []
    others: list[str] = []
    folders: list[str] = []
    inside = path if path.endswith("/") else path + "/"
    last_owner = (-1, -1)
    with os.scandir(fd) as iterator:
        for entry in iterator:
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                if st.st_uid != last_owner[0] or st.st_dev != last_owner[1]:
                    last_owner = (st.st_uid, st.st_dev)
                    owners.append(f"{len(names)}:{st.st_uid}:{st.st_dev}")
                names.append(entry.name)
                sizes.append(str(st.st_size))
            elif entry.is_dir(follow_symlinks=False):
                others += (entry.name, FOLDER)
                folders.append(inside + entry.name)
            else:
                others += (entry.name, LINK if entry.is_symlink() else OTHER)
    return [path, stamp, str(len(names)), *names, *sizes, ";".join(owners), *others], folders


def _list_tree(root: str, out: int, run: int) -> None:
    """List every folder below root, depth first, and send each listing (in the child process)."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    stack = [root]
    while stack:
        check_run(run)
        path = stack.pop()
        try:
            fd = open_folder(path)
        except OSError:
            continue  # the scan lists it again and says why it cannot
        try:
            st = os.fstat(fd)
            items, folders = _list_folder(fd, path, _stamp(st))
        except OSError:
            continue
        finally:
            os.close(fd)
        stack += sorted(folders, reverse=True)
        if time.time_ns() - st.st_mtime_ns >= RECENT_NS:
            record = "\0".join(items).encode(encoding, errors)
            write_all(out, b"%d\n" % len(record) + record)


def parse(data: bytes) -> dict[str, Listing]:
    """Return the listings in the bytes the child sent, by folder path (a cut-off last one is left out)."""
    encoding, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    listings = {}
    position, end = 0, len(data)
    while True:
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        start = newline + 1
        stop = start + int(data[position:newline])
        if stop > end:
            break
        items = data[start:stop].decode(encoding, errors).split("\0")
        listings[items[0]] = items
        position = stop
    return listings


def unchanged(listing: Listing) -> bool:
    """Tell whether a listed folder is still the one the child listed (no entry added, removed or renamed)."""
    try:
        return _stamp(os.stat(listing[0])) == listing[1]
    except OSError:
        return False


class ReadAhead:
    """The child that lists one origpath ahead of its scan."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.began = time.monotonic()
        self._data = b""
        self.pid, self._read = fork_child(lambda out, run: _list_tree(root, out, run))

    def take(self) -> dict[str, Listing]:
        """Stop the child and return every listing it sent, by folder path."""
        self.close()
        return parse(self._data)

    def close(self) -> None:
        """Stop the child (if it still runs) and keep what it sent."""
        if not self.pid:
            return
        stop_child(self.pid)
        self.pid = 0
        chunks = []
        while chunk := os.read(self._read, 1 << 20):  # the child is gone: the pipe ends with what it sent
            chunks.append(chunk)
        os.close(self._read)
        self._data = b"".join(chunks)


def reads_ahead(mode: str) -> bool:
    """Tell whether a ``package`` run in this mode may read origpath ahead (a move run changes it: no)."""
    return mode.strip().lower() != "move"


def reading_ahead(origpath: str | Path | None) -> AbstractContextManager[None]:
    """List origpath in a child process while a ``with`` block runs; the block's first scan of it takes the listings.

    Nothing happens where an outer block already reads ahead, or where origpath is None or not a folder.
    """
    return _slot.during(lambda: _start(origpath))


def _start(origpath: str | Path | None) -> ReadAhead | None:
    if origpath is None:
        return None
    root = os.path.realpath(origpath)
    return ReadAhead(root) if os.path.isdir(root) else None


def take(root: str) -> dict[str, Listing]:
    """Return the folders listed ahead of this scan of root, by path (once; empty if there are none)."""
    ahead = _slot.take()
    if not isinstance(ahead, ReadAhead):
        return {}
    listings = ahead.take()
    if ahead.root != root or time.monotonic() - ahead.began > MAX_AGE_S:
        return {}
    return listings
