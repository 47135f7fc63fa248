"""Locks: who holds them is named, a killed holder leaves nothing stale, threads are kept apart too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa2pack.core.errors import LockBusyError
from qa2pack.run import lock as lock_module
from qa2pack.run.lock import RunLock, Want, folder_locks_work, lock_path
from qa2pack.run.lockfile import holder_record

HOLD = """
import sys, time
from pathlib import Path
from qa2pack.run.lock import RunLock, Want
with RunLock([Want(Path(sys.argv[1]), sys.argv[2] == "x", sys.argv[3] == "folder")], "package"):
    print("held", flush=True)
    time.sleep(60)
"""

FILE_SYSTEMS = ["tmp_path"] + (["/dev/shm"] if Path("/dev/shm").is_dir() else [])


@pytest.fixture(params=FILE_SYSTEMS)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A folder on each file system this machine has (ext4 or whatever holds /tmp, and tmpfs)."""
    if request.param == "tmp_path":
        yield tmp_path
        return
    folder = Path(request.param) / f"qa2pack-lock-test-{os.getpid()}-{threading.get_ident()}"
    folder.mkdir()
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def holder(target: Path, exclusive: bool = True, on_folder: bool = False) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(target), "x" if exclusive else "s",
                                "folder" if on_folder else "file"], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def take(wants: list[Want], command: str) -> None:
    """Take the locks and let them go at once."""
    with RunLock(wants, command):
        pass


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait()
    if process.stdout is not None:
        process.stdout.close()


def test_a_second_run_is_told_who_holds_the_target(place: Path) -> None:
    target = place / "2013.1.00001.S"
    process = holder(target)
    try:
        with pytest.raises(LockBusyError) as caught:
            take([Want(target, False)], "verify")
        message = str(caught.value)
        assert f"is in use by 'qa2pack package' (process {process.pid} on " in message and "started 20" in message
        assert "--wait" in message
    finally:
        stop(process)


@pytest.mark.parametrize("on_folder", [False, True])
def test_a_holder_that_ends_while_it_is_named_lets_the_run_go_on(monkeypatch, place: Path, on_folder: bool) -> None:
    """Between the refused lock and reading who holds it, the holder ends: the lock is free, so take it."""
    target = place / "2013.1.00001.S"
    target.mkdir()
    process = holder(target, on_folder=on_folder)
    name = "_folder_holder" if on_folder else "_holder"
    real = getattr(lock_module, name)

    def holder_ends_first(path: Path) -> str:
        stop(process)  # the kernel drops its lock; an ended run also removed its lock file
        if not on_folder:
            lock_path(target).unlink()
        return real(path)

    monkeypatch.setattr(lock_module, name, holder_ends_first)
    begin = time.monotonic()
    take([Want(target, True, on_folder=on_folder)], "package")
    assert time.monotonic() - begin < 0.5  # nothing waited for a record that will never come


def test_a_killed_holder_leaves_no_stale_lock(place: Path) -> None:
    target = place / "2013.1.00001.S"
    process = holder(target)
    process.send_signal(signal.SIGKILL)
    stop(process)
    assert lock_path(target).exists()  # the file stays; the kernel released the lock with the process
    take([Want(target, True)], "package")
    assert not lock_path(target).exists()  # and the next holder removed it


def test_wait_waits_for_the_holder(place: Path) -> None:
    target = place / "2013.1.00001.S"
    process = holder(target)
    messages: list[str] = []
    threading.Timer(0.5, process.kill).start()
    begin = time.monotonic()
    with RunLock([Want(target, True)], "package", wait=True, on_wait=messages.append):
        pass
    stop(process)
    assert time.monotonic() - begin >= 0.4 and messages and "waiting for" in messages[0]


def test_readers_share_and_a_writer_waits_for_all_of_them(place: Path) -> None:
    target = place / "pkg"
    readers = [holder(target, exclusive=False) for _ in range(2)]
    try:
        take([Want(target, False)], "verify")
        with pytest.raises(LockBusyError, match="'qa2pack package'.*and"):  # both readers are named
            take([Want(target, True)], "package")
    finally:
        for process in readers:
            stop(process)


def test_threads_of_one_process_are_kept_apart(place: Path) -> None:
    target = place / "pkg"
    with RunLock([Want(target, True)], "package"), pytest.raises(LockBusyError, match="in this same process"):
        take([Want(target, True)], "deliver")
    with RunLock([Want(target, False)], "verify"), RunLock([Want(target, False)], "tarsplit"):
        pass  # two readers share
    assert not lock_path(target).exists()


def test_an_origin_is_locked_on_itself_and_nothing_is_written_beside_it(place: Path) -> None:
    origin = place / "SB"
    origin.mkdir()
    before = sorted(p.name for p in place.iterdir())
    process = holder(origin, exclusive=True, on_folder=True)
    try:
        assert sorted(p.name for p in place.iterdir()) == before
        with pytest.raises(LockBusyError, match=f"'python[^']*' \\(process {process.pid} on .*started 20"):
            take([Want(origin, False, on_folder=True)], "package")
    finally:
        stop(process)


def test_which_file_systems_lock_folders(monkeypatch, tmp_path: Path) -> None:
    assert folder_locks_work(tmp_path)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("22 1 0:21 / / rw - ext4 /dev/vda rw\n"
                         "40 22 0:40 / /data rw,relatime - nfs4 server:/data rw\n"
                         "41 22 0:41 / /lustre/work rw - lustre 10.0.0.1@tcp:/fs rw,flock\n")
    real_open = open

    def fake_open(path, *args, **kwargs):
        return real_open(mountinfo if path == "/proc/self/mountinfo" else path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    assert lock_module._file_system_type(Path("/data/x")) == "nfs4"
    assert not folder_locks_work(Path("/data/x")) and not folder_locks_work(Path("/lustre/work/sb"))
    assert folder_locks_work(Path("/home/analyst/sb"))


def test_a_file_system_without_locks_is_refused_unless_told(monkeypatch, tmp_path: Path) -> None:
    import errno

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(lock_module.fcntl, "flock", no_locks)
    with pytest.raises(Exception, match="does not support locks .*QA2PACK_UNLOCKED=1"):
        take([Want(tmp_path / "pkg", True)], "package")
    monkeypatch.setenv("QA2PACK_UNLOCKED", "1")
    take([Want(tmp_path / "pkg", True)], "package")


@given(command=st.text(), exclusive=st.booleans())
def test_the_record_a_holder_writes_is_one_line_of_json(command: str, exclusive: bool) -> None:
    """Written without ``json`` (a child that locks loads as little as it can); read back with it."""
    record = holder_record(command, exclusive).decode()
    assert record.endswith("\n") and "\n" not in record[:-1]
    read = json.loads(record)
    assert read["command"] == command and read["pid"] == os.getpid() and read["host"] == os.uname().nodename
    assert read["mode"] == ("exclusive" if exclusive else "shared") and read["started"].startswith("20")
