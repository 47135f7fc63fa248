"""Hashing a package ahead of its verify: adopted only for the verify's own files, and only under the package's lock."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from children import ended_within, reaped, recorded_forks
from factories import COPY_MEMBER, damage_copy_package
from qa2pack import cli
from qa2pack.core.errors import InputError, LockBusyError
from qa2pack.delivery import ahead
from qa2pack.delivery.ahead import HashAhead, hashing_ahead
from qa2pack.delivery.verify import verify_package
from qa2pack.formats import manifest as manifest_module
from qa2pack.formats import md5runs as md5runs_module
from qa2pack.formats.fields import escape_field
from qa2pack.formats.manifest import files_to_hash, hash_runs, manifest_path, read_manifest, runs_key
from qa2pack.formats.md5runs import MANIFEST_MAGIC, runs_reading
from qa2pack.run.lock import RunLock, Want, lock_path
from qa2pack.run.lockfile import LOCK_SUFFIX

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")


@pytest.fixture
def adoptions(monkeypatch) -> list[bool]:  # type: ignore[no-untyped-def]
    """Whether each verify that asked adopted the child; a helper hashes from 2 files on (the package is small)."""
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    seen: list[bool] = []
    real = HashAhead.adopt

    def recording(self, key, runs):  # type: ignore[no-untyped-def]
        helper = real(self, key, runs)
        seen.append(helper is not None)
        return helper

    monkeypatch.setattr(HashAhead, "adopt", recording)
    return seen


def _child_pid() -> int:
    child = ahead._slot.child
    assert isinstance(child, HashAhead)
    return child.pid


def _writer_refused(package: Path) -> bool:
    try:
        with RunLock([Want(package, exclusive=True)], "package"):
            return False
    except LockBusyError as busy:
        assert "verify" in str(busy)
        return True


def test_a_verify_that_adopts_the_child_reports_what_it_would_alone(copy_package: Path, adoptions: list[bool]) -> None:
    damage_copy_package(copy_package)
    alone = verify_package(copy_package)
    assert adoptions == []
    with hashing_ahead(str(copy_package)):
        pid = _child_pid()
        helped = verify_package(copy_package)
    assert adoptions == [True] and reaped(pid)
    assert not alone.ok and helped.problems == alone.problems and helped.notes == alone.notes
    assert helped.checksums == alone.checksums == alone.files - 1  # all but the extra file
    assert not os.path.lexists(lock_path(copy_package))  # the verify, the last holder, removed the lock file


def test_the_verify_takes_the_hashes_the_child_made(copy_package: Path, tmp_path: Path, adoptions: list[bool],
                                                   monkeypatch) -> None:
    png = copy_package / COPY_MEMBER / "qa/uid___A002_X3c9295_X8c__qa2_part1.png"
    png.write_bytes(png.read_bytes()[:-1] + b"x")  # found by the child (a missing file would stop it there)
    expected = verify_package(copy_package)

    def unread(path: str) -> tuple[str, int]:
        raise AssertionError(f"the verify hashed {path} itself")

    served = tmp_path / "served"
    real = md5runs_module.serve_hashes

    def telling(runs, out, run):  # type: ignore[no-untyped-def]
        real(runs, out, run)
        served.touch()  # in the child: every run is hashed and reported

    monkeypatch.setattr(md5runs_module, "serve_hashes", telling)
    with hashing_ahead(str(copy_package)):
        deadline = time.monotonic() + 30
        while not served.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        monkeypatch.setattr(manifest_module, "md5_and_size", unread)
        helped = verify_package(copy_package)
    assert adoptions == [True] and not expected.ok
    assert helped.problems == expected.problems and helped.checksums == expected.checksums


def test_a_child_that_hashes_other_files_is_stopped_and_the_verify_hashes_alone(copy_package: Path, tmp_path: Path,
                                                                              adoptions: list[bool]) -> None:
    damage_copy_package(copy_package)
    lines = manifest_path(copy_package).read_text(encoding="utf-8").splitlines(keepends=True)
    other = tmp_path / "other.manifest.tsv"
    other.write_text("".join(line for line in lines if "ipython.log" not in line), encoding="utf-8")
    alone = verify_package(copy_package, manifest=other)
    with hashing_ahead(str(copy_package)):
        pid = _child_pid()
        helped = verify_package(copy_package, manifest=other)
        assert reaped(pid)  # stopped by the verify, before its lock was released
    assert adoptions == [False]
    assert helped.problems == alone.problems and helped.checksums == alone.checksums
    assert not os.path.lexists(lock_path(copy_package))


def test_a_manifest_that_lists_a_path_twice_is_hashed_by_the_verify_alone(copy_package: Path,
                                                                           adoptions: list[bool]) -> None:
    """Its runs read row by row hold the path twice, the verify's once: the child is not adopted."""
    damage_copy_package(copy_package)
    path = manifest_path(copy_package)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines + [lines[-1]]), encoding="utf-8")
    alone = verify_package(copy_package)
    with hashing_ahead(str(copy_package)):
        pid = _child_pid()
        helped = verify_package(copy_package)
        assert reaped(pid)
    assert adoptions == []  # stopped without being asked
    assert helped.problems == alone.problems and helped.checksums == alone.checksums


_NAMES = st.sampled_from(["a/", "b c/", "../", "/", "t\tab/", "n\nl/", "d/..e/", "x\\y/"])
_ROWS = st.tuples(_NAMES, st.sampled_from([0, 5, 20 << 20, 40 << 20]), st.sampled_from(["-", "0" * 32, "#"]))
_OTHER_LINES = st.sampled_from(["# note: a fact", "a line without fields", "", "#"])


@given(rows=st.lists(st.one_of(_ROWS, _OTHER_LINES), max_size=80), workers=st.integers(1, 3),
       run_files=st.integers(1, 3))
def test_the_runs_made_while_reading_are_the_runs_of_the_whole_manifest(rows, workers: int, run_files: int) -> None:
    """The child's runs, made as it reads the rows, are the verify's, and their keys agree (paths listed once)."""
    lines = [MANIFEST_MAGIC, "# package: 2019.1.00001.S"]
    for number, row in enumerate(rows):
        if isinstance(row, str):
            lines.append(row)
        else:
            folder, size, md5 = row
            lines.append(f"{md5}\t{size}\t{escape_field(f'{folder}{number}')}")
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(md5runs_module, "RUN_FILES", run_files):
        path = Path(tmp, "p.manifest.tsv")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        key, runs = runs_reading(path, "/pack", workers)
        listed, pairs = files_to_hash(read_manifest(path), "/pack")
        assert list(runs) == hash_runs(pairs, workers, listed)
        assert key == runs_key(read_manifest(path), "/pack", workers)
        assert key not in (runs_key(read_manifest(path), "/other", workers),
                           runs_key(read_manifest(path), "/pack", workers + 1))


def test_a_row_whose_size_is_no_number_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.manifest.tsv"
    path.write_text(f"{MANIFEST_MAGIC}\n{'0' * 32}\tfive\tf\n", encoding="utf-8")
    for read in (read_manifest, lambda path: runs_reading(path, "/pack", 2)):
        with pytest.raises(InputError, match="is not a qa2pack manifest: the size in .* is not a number"):
            read(path)


def test_runs_of_other_bytes_or_of_a_path_listed_twice_have_another_key_or_none(tmp_path: Path) -> None:
    path = tmp_path / "p.manifest.tsv"
    rows = [f"{'0' * 32}\t5\tf{number}" for number in range(3)]
    path.write_text("\n".join([MANIFEST_MAGIC, *rows]) + "\n", encoding="utf-8")
    key = runs_key(read_manifest(path), "/pack", 2)
    path.write_text("\n".join([MANIFEST_MAGIC, *rows[:2]]) + "\n", encoding="utf-8")
    assert key is not None and runs_key(read_manifest(path), "/pack", 2) not in (key, None)
    path.write_text("\n".join([MANIFEST_MAGIC, *rows, rows[0]]) + "\n", encoding="utf-8")
    assert runs_key(read_manifest(path), "/pack", 2) is None


def test_the_child_holds_the_package_shared_until_the_verify_stops_it(copy_package: Path,
                                                                      adoptions: list[bool]) -> None:
    with hashing_ahead(str(copy_package)):
        record = f'"pid": {_child_pid()},'
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (lock_path(copy_package).exists() and  # it took the lock
                                                   record in lock_path(copy_package).read_text()):
            time.sleep(0.01)
        time.sleep(0.5)  # it has hashed everything by now, and still holds the lock
        assert _writer_refused(copy_package)
        assert verify_package(copy_package).ok
        assert not _writer_refused(copy_package)  # stopped with the verify: a writer may have the package now
    assert adoptions == [True] and not os.path.lexists(lock_path(copy_package))


def test_a_child_that_finds_a_writer_holding_the_package_ends_and_hashes_nothing(copy_package: Path,
                                                                                adoptions: list[bool]) -> None:
    with RunLock([Want(copy_package, exclusive=True)], "package"), hashing_ahead(str(copy_package)):
        pid = _child_pid()
        assert ended_within(pid, 10)
    assert reaped(pid) and adoptions == []
    with hashing_ahead(str(copy_package)):  # the writer is gone: a verify with a new child holds as before
        assert verify_package(copy_package).ok
    assert adoptions == [True]


def test_a_package_where_no_lock_file_can_be_made_is_still_hashed_ahead(copy_package: Path, adoptions: list[bool],
                                                                       monkeypatch) -> None:
    """A read-only place (a delivered package on a read-only mount): nobody writes there, so reading needs no lock."""
    real_open = os.open

    def read_only_beside(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith(LOCK_SUFFIX) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_beside)  # here and in the child forked from here
    damage_copy_package(copy_package)
    alone = verify_package(copy_package)
    with hashing_ahead(str(copy_package)):
        helped = verify_package(copy_package)
    assert adoptions == [True] and helped.problems == alone.problems and helped.checksums == alone.checksums
    assert not os.path.lexists(lock_path(copy_package))


def test_a_child_stops_soon_after_its_run_is_killed_and_releases_the_package(copy_package: Path) -> None:
    run = ("import os, sys; from qa2pack.delivery.ahead import HashAhead; ahead = HashAhead(sys.argv[1]); "
           "ahead._header(); print(ahead.pid, flush=True); os.kill(os.getpid(), 9)")  # killed while the child hashes
    process = subprocess.run([sys.executable, "-c", run, str(copy_package)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    assert process.returncode == -signal.SIGKILL
    assert ended_within(int(process.stdout), 10)
    assert not _writer_refused(copy_package)


def test_the_command_line_hashes_ahead_only_for_a_package_against_its_own_manifest(tmp_path: Path) -> None:
    assert cli._packpath_in(["verify", "P"]) == "P"
    assert cli._packpath_in(["verify", "P", "-q", "--config", "rules.toml", "--wait", "--json"]) == "P"
    for argv in (["verify", "P", "--manifest", "M"], ["verify", "P", "--manifest=M"], ["verify", "P", "--no-checksums"],
                 ["verify", "a.tar"], ["verify", "a.tar", "b.tar"], ["verify"], ["package", "O", "P"], []):
        assert cli._packpath_in(argv) is None


@pytest.mark.parametrize(("extra", "code"), [(["-q"], 1), (["--no-such-option"], 2)])
def test_the_command_line_adopts_the_child_and_leaves_none_behind(copy_package: Path, adoptions: list[bool],
                                                                 extra: list[str], code: int, monkeypatch,
                                                                 capsys) -> None:
    damage_copy_package(copy_package)
    assert cli.main(["verify", str(copy_package), *extra]) == code
    alone = capsys.readouterr()
    pids = recorded_forks(monkeypatch, ahead)
    monkeypatch.setattr(sys, "argv", ["qa2pack", "verify", str(copy_package), *extra])
    monkeypatch.setattr(cli, "exit_without_teardown", sys.exit)  # in-process: the real one ends pytest too
    with pytest.raises(SystemExit) as exited:
        cli.run_and_exit()
    assert exited.value.code == code and capsys.readouterr() == alone
    assert len(pids) == 1 and reaped(pids[0]) and ahead._slot.child is None
    assert adoptions == ([True] if code == 1 else [])
    assert not os.path.lexists(lock_path(copy_package))
