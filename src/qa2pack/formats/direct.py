"""Writing long streams past the page cache, where the system allows it.

Written through the page cache, every byte is copied once more and the kernel later writes it
back: about a second of CPU per GB on the benchmark machine, as much as the md5 of the same
bytes takes, on machines where the md5 already keeps one core busy.  On Linux a file descriptor
with ``O_DIRECT`` is written from the process's memory straight to the disk instead.  Direct
writes need the memory, the length and the file offset aligned; whatever is not (the last bytes
of a file, a file system that refuses ``O_DIRECT``, a platform without it) is written the
ordinary way, so the file holds the same bytes either way; ``QA2PACK_NO_DIRECT_IO=1`` writes
everything so, for a file system that accepts direct writes but serves them slowly.
"""

from __future__ import annotations

import errno
import mmap
import os

ALIGN = 4096  # a page: memory from mmap starts on one, and it is a multiple of every disk's block
DIRECT_MIN = 8 << 20  # a smaller file is not worth a write that waits for the disk
NO_DIRECT = "QA2PACK_NO_DIRECT_IO"  # set (to anything but ""): every file is written the ordinary way
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


def aligned_buffer(size: int) -> mmap.mmap:
    """Return ``size`` zeroed bytes starting on a page boundary (anonymous memory, not a file).

    Private: an anonymous map is shared with forked processes by default, and a process forked
    to hash beside this one must not fill the same buffer.
    """
    if hasattr(mmap, "MAP_PRIVATE"):
        return mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    return mmap.mmap(-1, size)  # Windows: no fork, and no flags to give


class StreamOut:
    """An open file written in order: directly while :meth:`go_direct` was called and writes stay aligned.

    The first write that cannot be direct (a length or offset off the alignment, or one the
    file system refuses) turns direct writing off for the rest of the file, and
    :meth:`go_direct` does not turn it on again.
    """

    def __init__(self, fd: int, offset: int = 0) -> None:
        self.fd = fd
        self.offset = offset  # where the descriptor is: direct writes must start on an aligned one
        self.direct = False
        self._stopped = False

    def go_direct(self) -> bool:
        """Write past the page cache from now on, if the system and the file system allow it."""
        if not (self.direct or self._stopped) and _O_DIRECT and self.offset % ALIGN == 0 \
                and not os.environ.get(NO_DIRECT):
            self.direct = _set_direct(self.fd, True)
            self._stopped = not self.direct  # refused: not asked again for this file
        return self.direct

    def write(self, data: memoryview) -> None:
        """Write all of ``data`` at the current offset (the caller keeps it unchanged until this returns)."""
        view = data
        while view:
            if self.direct and (len(view) < ALIGN or self.offset % ALIGN):
                self._stop_direct()
            chunk = view[:len(view) - len(view) % ALIGN] if self.direct else view
            try:
                written = os.write(self.fd, chunk)
            except OSError as exc:
                if not (self.direct and exc.errno == errno.EINVAL):
                    raise
                self._stop_direct()  # memory or file system not as direct writes need them
                continue
            self.offset += written
            view = view[written:]

    def _stop_direct(self) -> None:
        _set_direct(self.fd, False)
        self.direct = False
        self._stopped = True


def _set_direct(fd: int, on: bool) -> bool:
    """Turn ``O_DIRECT`` on or off for an open file; return whether it is now on."""
    import fcntl  # Linux only reaches here (os.O_DIRECT exists)

    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | _O_DIRECT) if on else (flags & ~_O_DIRECT))
    except OSError:
        if not on:
            raise
        return False  # a file system without direct writes (some refuse it here)
    return on
