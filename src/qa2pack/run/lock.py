"""Locks on what a run writes (exclusive) or reads (shared), held for the whole run.

Every lock is an OS lock (``flock``), which the kernel releases when the process ends, however
it ends: a killed run never leaves a stale lock.  A run that finds its target locked stops at
once with one line naming the holder (command, process id, host, start time), or waits with
``--wait``.  Locks are taken in path order, so two runs that wait for each other's target cannot
deadlock.

Two kinds of lock:

- A folder the run writes (a package, a delivery, a restore folder, a tar output folder) is
  locked through a small file beside it, ``.<name>.qa2pack-lock``, in which each holder writes
  who it is.  The last holder removes the file while still holding the lock, and every run checks,
  once it holds a lock, that the file it locked is still the one at that path (else it locks
  again), so removing never lets two runs hold the same target.
- A folder the run only reads or moves from (the reduction folder, a pipeline run) is locked on
  the folder itself, so nothing is written near the analyst's data; the holder is named from
  ``/proc/locks``.  On NFS, Lustre and other network file systems, where a folder cannot be locked
  exclusively, every run uses a lock file beside the folder instead (the choice depends on the file
  system type alone, so all runs on one file system agree).

On NFS, Linux maps ``flock`` onto NFS byte-range locks, which all clients see.  On Lustre, locks
work across nodes only when the client mounts with ``-o flock`` (``localflock`` makes them
node-local, and without either option locking fails): qa2pack then refuses to run unless
``QA2PACK_UNLOCKED=1`` says to run without the protection.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from ..core.errors import InputError, LockBusyError
from ..core.record import field, record
from .lockfile import UNSUPPORTED, flock_now, hold_lock_file, host, local_time, lock_file_of, open_lock_file

_POLL_SECONDS = 0.2
# File systems on which a folder cannot be locked exclusively (or not for every client).
_NETWORK_FILE_SYSTEMS = ("nfs", "nfs4", "lustre", "cifs", "smb3", "smbfs", "ceph", "gpfs", "beegfs", "fuse.sshfs",
                         "9p")

# Locks this process holds: flock is per open file on local file systems but per process where it
# is emulated (NFS), so threads of one process are kept apart here too.  key -> (holders, command);
# holders is -1 for an exclusive lock.
_HELD: dict[str, tuple[int, str]] = {}
_HELD_LOCK = threading.Lock()



def lock_path(target: Path) -> Path:
    """Return the lock file of a target folder: ``.<name>.qa2pack-lock`` beside it."""
    return Path(lock_file_of(target))


def _file_system_type(path: Path) -> str:
    """Return the type of the file system holding ``path`` ('' when the system does not say)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            mounts = handle.readlines()
    except OSError:
        return ""
    real = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts:
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        point = fields[4].replace("\\040", " ")
        after = line.split(" - ", 1)[1].split()
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best) and after:
            best, kind = point, after[0]
    return kind


def folder_locks_work(path: Path) -> bool:
    """Tell whether a folder itself can be locked exclusively where it lies (not on a network file system)."""
    kind = _file_system_type(path)
    return not any(kind == name or kind.startswith(name + ".") for name in _NETWORK_FILE_SYSTEMS)


@record
class Want:
    """One lock a run needs: its target, whether the run writes there, and whether to lock the folder itself."""

    target: Path
    exclusive: bool
    on_folder: bool = False  # lock the folder itself (origins: nothing is written near them)


UNNAMED_HOLDER = "another qa2pack run"  # a holder that left no record, or ended before it could be named
_RETRIES_UNNAMED = 3


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
    return " and ".join(holders[-3:]) if holders else UNNAMED_HOLDER


def _holder(path: Path, patience: float = 1.0) -> str:
    """Read who holds a lock file; a holder that just took it writes its record a moment later."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except FileNotFoundError:
            return UNNAMED_HOLDER  # its last holder ended and removed it: nobody to name, nothing to wait for
        except OSError:
            text = ""
        if text.strip() or time.monotonic() > deadline:
            return _describe(text)
        time.sleep(0.02)


def writer_holding(target: Path) -> str | None:
    """Name the run writing ``target`` now, without taking or making a lock (None when no run writes it).

    For refusals made before a run takes its locks: a package that looks half made because
    another run is making it is in use, not broken.
    """
    path = lock_path(Path(os.path.abspath(target)))
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        return _holder(path) if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN) else None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _process(pid: int) -> str:
    """Describe a process of this host by its command line and start time (from /proc)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = [w.decode("utf-8", "replace") for w in handle.read().split(b"\0") if w]
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            started_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat", encoding="utf-8") as handle:
            boot = int(next(line.split()[1] for line in handle if line.startswith("btime")))
    except (OSError, ValueError, IndexError, StopIteration):
        return f"process {pid} on {host()}"
    started = local_time(boot + started_ticks / os.sysconf("SC_CLK_TCK"))
    programs = [word.rsplit("/", 1)[-1] for word in words]
    if "qa2pack" in programs:  # the console script, or python -m qa2pack
        at = programs.index("qa2pack")
        name = " ".join(["qa2pack"] + words[at + 1:at + 2])
    else:  # a program using qa2pack as a library
        name = " ".join(programs[:2]) or "?"
    return f"'{name}' (process {pid} on {host()}, started {started})"


def _folder_holder(path: Path) -> str:
    """Name the process holding a lock on a folder itself, from /proc/locks (this host only)."""
    try:
        st = os.stat(path)
        with open("/proc/locks", encoding="utf-8") as handle:
            lines = handle.readlines()
    except OSError:
        return UNNAMED_HOLDER
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        fields = line.split()
        if (len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == wanted and fields[4].isdigit()
                and int(fields[4]) != os.getpid()):
            return _process(int(fields[4]))
    return UNNAMED_HOLDER


@record(frozen=False)
class _Held:
    key: str
    fd: int
    exclusive: bool
    lock_file: Path | None  # None for a lock on the folder itself


class _Busy(Exception):
    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


@record(frozen=False)
class RunLock:
    """Hold the locks of one run: ``with RunLock([...], "package"):``."""

    wants: Iterable[Want]
    command: str
    wait: bool = False
    on_wait: Callable[[str], None] | None = None
    held: list[_Held] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)  # folders made for lock files, removed again if left empty

    def __enter__(self) -> RunLock:
        merged: dict[tuple[str, bool], tuple[Path, bool]] = {}  # (target, on folder) -> (target, exclusive)
        for want in self.wants:
            target = Path(os.path.abspath(want.target))
            on_folder = want.on_folder and target.is_dir() and folder_locks_work(target)
            key = (str(target), on_folder)
            merged[key] = (target, merged.get(key, (target, False))[1] or want.exclusive)
        try:
            for (_, on_folder), (target, exclusive) in sorted(merged.items()):  # one order: no deadlock
                held = self._acquire(target, exclusive, on_folder)
                if held is not None:
                    self.held.append(held)
        except BaseException:
            self.release()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()

    def _acquire(self, target: Path, exclusive: bool, on_folder: bool) -> _Held | None:
        key = f"folder:{target}" if on_folder else f"file:{lock_path(target)}"
        waited = False
        retries = 0
        while True:
            other = self._held_here(key, exclusive)
            if other is None:
                try:
                    held = self._lock_folder(target, exclusive) if on_folder else self._lock_file(target, exclusive)
                except _Busy as busy:
                    self._unregister(key, exclusive)
                    if busy.holder == UNNAMED_HOLDER and retries < _RETRIES_UNNAMED:
                        retries += 1  # the holder ended while it was being named: the lock may be free now
                        continue
                    if not self.wait:
                        raise LockBusyError(f"{target} is in use by {busy.holder}; wait for it to finish, or "
                                            "pass --wait") from None
                except BaseException:
                    self._unregister(key, exclusive)
                    raise
                else:
                    if held is None:
                        self._unregister(key, exclusive)
                    else:
                        held.key = key
                    return held
            elif not self.wait:
                raise LockBusyError(f"{target} is in use by '{other}' in this same process (pid {os.getpid()}); "
                                    "wait for it to finish, or pass --wait")
            if not waited and self.on_wait is not None:
                self.on_wait(f"waiting for {target}, which another qa2pack run holds")
            waited = True
            time.sleep(_POLL_SECONDS)

    def _held_here(self, key: str, exclusive: bool) -> str | None:
        """Register a lock in this process; return the holder's command when a thread here holds it incompatibly."""
        with _HELD_LOCK:
            count, command = _HELD.get(key, (0, ""))
            if count < 0 or (exclusive and count > 0):
                return f"qa2pack {command}"
            _HELD[key] = (-1, self.command) if exclusive else (count + 1, self.command)
            return None

    @staticmethod
    def _unregister(key: str, exclusive: bool) -> None:
        with _HELD_LOCK:
            count, command = _HELD.get(key, (0, ""))
            remaining = 0 if exclusive else count - 1
            if remaining > 0:
                _HELD[key] = (remaining, command)
            else:
                _HELD.pop(key, None)

    @staticmethod
    def _flock(fd: int, exclusive: bool, describe: Callable[[], str]) -> bool:
        """Lock without waiting; False where the file system cannot lock (and QA2PACK_UNLOCKED=1 allows that)."""
        try:
            return flock_now(fd, exclusive)
        except BlockingIOError:
            raise _Busy(describe()) from None
        except OSError as exc:
            if exc.errno not in UNSUPPORTED:
                raise
            raise InputError("this file system does not support locks (Lustre mounted without -o flock?); mount it "
                             "with flock, or set QA2PACK_UNLOCKED=1 to run without protection against a second "
                             "run") from None

    def _lock_folder(self, target: Path, exclusive: bool) -> _Held | None:
        try:
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise InputError(f"cannot open {target}: {exc.strerror}") from None
        if not self._flock(fd, exclusive, lambda: _folder_holder(target)):
            return None
        return _Held("", fd, exclusive, None)

    def _lock_file(self, target: Path, exclusive: bool) -> _Held | None:
        path = lock_path(target)

        def open_file(name: str, exclusive: bool) -> int | None:
            try:  # the folders each time: a holder that made them removes them if it leaves them empty
                return open_lock_file(name, exclusive, lambda: self._make_folders(path.parent))
            except OSError as exc:
                raise InputError(f"cannot create the lock file {path}: {exc.strerror}") from None

        fd = hold_lock_file(str(path), exclusive, self.command, open_file,
                            lambda fd, exclusive: self._flock(fd, exclusive, lambda: _holder(path)))
        return None if fd is None else _Held("", fd, exclusive, path)

    def _make_folders(self, folder: Path) -> None:
        missing = []
        while not folder.exists() and folder != folder.parent:
            if os.path.lexists(folder):
                break
            missing.append(folder)
            folder = folder.parent
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{folder} is a file, not a folder")
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            self.made.append(path)

    def release(self) -> None:
        """Release every lock (the last holder of each lock file removes it; folders made for it go if empty)."""
        while self.held:
            held = self.held.pop()
            try:
                if held.lock_file is None:
                    pass
                elif held.exclusive:
                    held.lock_file.unlink()
                elif _HELD.get(held.key, (0, ""))[0] == 1:  # the last reader of this process ...
                    try:  # ... and of any other: it removes the file, holding it alone
                        fcntl.flock(held.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        held.lock_file.unlink()
                    except OSError:
                        pass
            except FileNotFoundError:
                pass
            finally:
                os.close(held.fd)
                self._unregister(held.key, held.exclusive)
        while self.made:
            try:
                self.made.pop().rmdir()  # only when the run left it empty (it failed before writing)
            except OSError:
                self.made.clear()
