"""Locks on what a run writes (exclusive) or reads (shared), held for the whole run.

Each lock is an OS lock (``flock``) on a small file beside its target, ``.<name>.qa2pack-lock``.
The kernel releases it when the process ends, however it ends, so a killed run never leaves a
stale lock; the file itself records who holds it (command, process id, host, start time), so a
second run can say whom it met.  A run that finds its target locked stops at once with one line
naming the holder, or waits with ``--wait``.

The last holder to leave removes the file while it still holds the lock, and every run checks,
once it holds a lock, that the file it locked is still the one at that path (else it locks
again): so removing never lets two runs hold the same target.  Locks are taken in path order,
so two runs that each wait for the other's target cannot deadlock.

On NFS, Linux maps ``flock`` onto NFS byte-range locks, which all clients see.  On Lustre, locks
work across nodes only when the client mounts with ``-o flock`` (``localflock`` makes them
node-local, and without either option locking fails): qa2pack then refuses to write unless
``QA2PACK_UNLOCKED=1`` says to run without the protection.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

from .errors import InputError, LockBusyError

LOCK_SUFFIX = ".qa2pack-lock"
_POLL_SECONDS = 0.2
_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)

# Locks this process holds, by lock file: flock is per open file on local file systems, but
# per process where it is emulated (NFS), so threads of one process are kept apart here too.
_HELD: dict[str, int] = {}  # path -> +1 per shared holder, -1 for the exclusive one
_HELD_LOCK = threading.Lock()


def lock_path(target: Path) -> Path:
    """Return the lock file of a target folder: ``.<name>.qa2pack-lock`` beside it."""
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


@dataclass(frozen=True)
class Want:
    """One lock a run needs: its target and whether the run writes there."""

    target: Path
    exclusive: bool


def _describe(text: str) -> str:
    """Say who holds a lock, from what its holders wrote into the lock file."""
    holders = []
    for line in text.splitlines():
        try:
            info = json.loads(line)
        except json.JSONDecodeError:
            continue
        holders.append(f"'qa2pack {info.get('command', '?')}' (process {info.get('pid', '?')} on "
                       f"{info.get('host', '?')}, started {info.get('started', '?')})")
    return " and ".join(holders[-3:]) if holders else "another qa2pack run"


@dataclass
class _Held:
    path: Path
    fd: int
    exclusive: bool


@dataclass
class RunLock(AbstractContextManager["RunLock"]):
    """Hold the locks of one run: ``with RunLock([...], "package"):``."""

    wants: Iterable[Want]
    command: str
    wait: bool = False
    on_wait: Callable[[str], None] | None = None
    held: list[_Held] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)  # folders made for lock files, removed again if left empty

    def __enter__(self) -> RunLock:
        merged: dict[Path, bool] = {}
        for want in self.wants:
            path = lock_path(want.target)
            merged[path] = merged.get(path, False) or want.exclusive
        try:
            for path in sorted(merged):  # one global order: two waiting runs never deadlock
                held = self._acquire(path, merged[path])
                if held is not None:
                    self.held.append(held)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def _record(self, exclusive: bool) -> str:
        return json.dumps({"command": self.command, "pid": os.getpid(), "host": socket.gethostname(),
                           "started": datetime.now().isoformat(timespec="seconds"),
                           "mode": "exclusive" if exclusive else "shared"}) + "\n"

    def _acquire(self, path: Path, exclusive: bool) -> _Held | None:
        target = path.with_name(path.name[1:-len(LOCK_SUFFIX)])
        waited = False
        while True:
            if self._held_here(path, exclusive):
                try:
                    fd = self._open_and_lock(path, exclusive)
                except _Busy as busy:
                    if not self.wait:
                        self._unregister(path, exclusive)
                        raise LockBusyError(f"{target} is in use by {busy.holder}; wait for it to finish, or "
                                            "pass --wait") from None
                    self._unregister(path, exclusive)
                else:
                    if fd is None:
                        self._unregister(path, exclusive)
                        return None  # a read-only place: nobody writes there, no lock needed
                    return _Held(path, fd, exclusive)
            elif not self.wait:
                raise LockBusyError(f"{target} is in use by another run of this process ('qa2pack "
                                    f"{self.command}' cannot share it)")
            if not waited and self.on_wait is not None:
                self.on_wait(f"waiting for {target}, which another qa2pack run holds")
            waited = True
            time.sleep(_POLL_SECONDS)

    @staticmethod
    def _held_here(path: Path, exclusive: bool) -> bool:
        """Register the lock in this process; False when another thread here holds it incompatibly."""
        key = str(path)
        with _HELD_LOCK:
            count = _HELD.get(key, 0)
            if count < 0 or (exclusive and count > 0):
                return False
            _HELD[key] = -1 if exclusive else count + 1
            return True

    @staticmethod
    def _unregister(path: Path, exclusive: bool) -> None:
        key = str(path)
        with _HELD_LOCK:
            count = _HELD.get(key, 0)
            remaining = 0 if exclusive else count - 1
            if remaining:
                _HELD[key] = remaining
            else:
                _HELD.pop(key, None)

    def _open_and_lock(self, path: Path, exclusive: bool) -> int | None:
        while True:
            try:
                self._make_folders(path.parent)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if exc.errno in _READ_ONLY and not exclusive:
                    return None
                raise InputError(f"cannot create the lock file {path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    holder = _describe(handle.read())
                os.close(fd)
                raise _Busy(holder) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:
                    if os.environ.get("QA2PACK_UNLOCKED") == "1":
                        return None
                    raise InputError(f"cannot lock {path}: this file system does not support locks (Lustre "
                                     "mounted without -o flock?); mount it with flock, or set QA2PACK_UNLOCKED=1 "
                                     "to run without protection against a second run") from None
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the last holder removed this file just before we locked it: lock the new one
                os.close(fd)
                continue
            record = self._record(exclusive).encode()
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, record, 0)
            elif os.lseek(fd, 0, os.SEEK_END) < 4096:  # readers add a line each (a few are enough to name)
                os.write(fd, record)
            return fd

    def _make_folders(self, folder: Path) -> None:
        missing = []
        while not folder.exists() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            self.made.append(path)

    def release(self) -> None:
        """Release every lock (the last holder of each removes its file, and folders made for it go if empty)."""
        while self.held:
            held = self.held.pop()
            try:
                if held.exclusive:
                    os.unlink(held.path)
                elif _HELD.get(str(held.path), 0) == 1:  # the last reader of this process ...
                    try:  # ... and of any other: it removes the file, holding it alone
                        fcntl.flock(held.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        os.unlink(held.path)
                    except OSError:
                        pass
            except FileNotFoundError:
                pass
            finally:
                os.close(held.fd)
                self._unregister(held.path, held.exclusive)
        while self.made:
            try:
                self.made.pop().rmdir()  # only when the run left it empty (it failed before writing)
            except OSError:
                self.made.clear()


class _Busy(Exception):
    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder
