"""The lock file beside a folder a run writes or reads: its name, taking it, and the holder's record in it.

Every run takes its lock files through :func:`hold_lock_file` (:class:`~qa2pack.run.lock.RunLock`
adds waiting, naming the holder and one-line errors).  It loads nothing but the core: the child
that hashes a package ahead of its verify takes the package's shared lock with it before the
rest of qa2pack has loaded (:mod:`qa2pack.delivery.ahead`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.delivery.ahead)
if TYPE_CHECKING:
    from collections.abc import Callable

LOCK_SUFFIX = ".qa2pack-lock"
# flock's errors where the file system cannot lock at all (not: another run holds it).
UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.EBADF)
# Where a lock file cannot be made because nobody may write there.
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
_RECORD_ROOM = 4096  # shared holders add a line each until the file is this long (a few are enough to name)


def lock_file_of(target: str | os.PathLike[str]) -> str:
    """Return the lock file of a target folder: ``.<name>.qa2pack-lock`` beside it."""
    head, name = os.path.split(os.path.abspath(target))
    return os.path.join(head, f".{name}{LOCK_SUFFIX}")


def local_time(seconds: float | None = None) -> str:
    """Return a local time as ISO 8601 to the second (``time``, not ``datetime``: cheaper to load)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))


def host() -> str:
    """Return the machine's name, as ``socket.gethostname()`` does (without importing sockets on every run)."""
    return os.uname().nodename


def holder_record(command: str, exclusive: bool) -> bytes:
    """Return the line a holder writes into its lock file: one JSON object naming the run."""
    fields: dict[str, str | int] = {"command": command, "pid": os.getpid(), "host": host(), "started": local_time(),
                                    "mode": "exclusive" if exclusive else "shared"}
    return ("{" + ", ".join(f"{_json_text(key)}: {_json_value(value)}" for key, value in fields.items()) + "}\n").encode()


def _json_value(value: str | int) -> str:
    return str(value) if isinstance(value, int) else _json_text(value)


def _json_text(text: str) -> str:
    """Return a JSON string (``json`` itself loads ``re`` and ``enum``: more than a child that locks can afford)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(ch if ch >= " " else f"\\u{ord(ch):04x}" for ch in escaped) + '"'


def open_lock_file(path: str, exclusive: bool, prepare: Callable[[], object] | None = None) -> int | None:
    """Open (make) a lock file, after ``prepare()`` (which makes its folder).

    None where it cannot be made because nobody may write there, and the lock is only for reading.
    """
    try:
        if prepare is not None:
            prepare()
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        if exc.errno in READ_ONLY and not exclusive:
            return None  # a read-only place: nobody writes there, no lock needed
        raise


def flock_now(fd: int, exclusive: bool) -> bool:
    """Lock an open file without waiting, else close it and raise (BlockingIOError: another run holds it).

    False (closed) where the file system cannot lock and ``QA2PACK_UNLOCKED=1`` allows running without.
    """
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in UNSUPPORTED and os.environ.get("QA2PACK_UNLOCKED") == "1":
            return False
        raise
    return True


def hold_lock_file(path: str, exclusive: bool, command: str,
                   open_file: Callable[[str, bool], int | None] = open_lock_file,
                   lock: Callable[[int, bool], bool] = flock_now) -> int | None:
    """Lock the lock file at ``path`` without waiting and write this run's record into it; return it open.

    None where ``open_file`` or ``lock`` say that no lock is needed or possible.  The last holder
    of a lock file removes it while holding it: a file locked after its removal is no longer the
    one at that path, and the one there now is locked instead.
    """
    while True:
        fd = open_file(path, exclusive)
        if fd is None or not lock(fd, exclusive):
            return None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the last holder removed this file just before we locked it: lock the new one
            os.close(fd)
            continue
        record = holder_record(command, exclusive)
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        elif os.lseek(fd, 0, os.SEEK_END) < _RECORD_ROOM:
            os.write(fd, record)
        return fd
