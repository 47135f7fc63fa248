"""Interrupted runs: a clearly marked partial package, origpath safe, and recovery by running again."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from factories import SB3, SB4, project229_setup3, project229_setup4, tree_listing
from qa2pack import Append, Mode, PackageOptions, package
from qa2pack.cli import main
from qa2pack.core.errors import EXIT_FAILED_MIDRUN, ExecutionError
from qa2pack.delivery.layout import MARKER
from qa2pack.run import execute as execute_module
from qa2pack.run.journal import moves_path


@pytest.fixture
def project229(build) -> Path:
    return build({**project229_setup3(), **project229_setup4()}, "project229")


def contents(root: Path) -> dict[str, bytes]:
    """Every file's bytes, read through links (what a user sees at the origin)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def failing_after(n: int, transfer):
    calls = {"n": 0}

    def wrapper(src: str, dst: str):
        calls["n"] += 1
        if calls["n"] > n:
            raise OSError(errno.ENOSPC, "No space left on device", dst)
        return transfer(src, dst)

    return wrapper


def test_interrupted_copy_is_marked_and_the_next_run_completes_it(project229: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    sb3 = project229 / SB3
    origin = tree_listing(sb3)
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.COPY))
    packpath = tmp_path / "run" / "2011.0.00229.S"
    monkeypatch.setitem(execute_module.TRANSFERS, Mode.COPY, lambda ex: failing_after(40, execute_module.copy_file))
    with pytest.raises(ExecutionError, match="No space left on device.*next run rolls it back"):
        package(sb3, packpath, PackageOptions(mode=Mode.COPY))
    assert (packpath / MARKER).is_file()  # never a package that looks complete
    assert not (tmp_path / "run" / "2011.0.00229.S.ticket.zip").exists()
    assert tree_listing(sb3) == origin
    monkeypatch.undo()
    report = package(sb3, packpath, PackageOptions(mode=Mode.COPY))
    assert not (packpath / MARKER).exists()
    rolled = [note for note in report.notes if "rolled back the interrupted run" in note]
    assert len(rolled) == 1 and "0 moved files returned" in rolled[0]
    assert "the partial package (1 top-level folder) removed" in rolled[0]  # what was there, not "0 new folders"
    assert contents(packpath) == contents(reference)
    assert tree_listing(sb3) == origin


def test_failure_while_making_folders_is_marked_and_the_next_run_completes_it(project229: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    # Folders are made level by level on threads before any file: a failure there (here the
    # second batch of new folders) stops the run with the marker, like a failure on a file.
    sb3 = project229 / SB3
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.HARD))
    make = execute_module.Executor._make_new_folders
    calls = {"n": 0}

    def failing(self, rels):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.EDQUOT, "Disk quota exceeded", rels[0])
        return make(self, rels)

    monkeypatch.setattr(execute_module.Executor, "_make_new_folders", failing)
    packpath = tmp_path / "run" / "2011.0.00229.S"
    with pytest.raises(ExecutionError, match="Disk quota exceeded.*next run rolls it back"):
        package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    assert (packpath / MARKER).is_file()
    assert not any(p.is_file() for p in (packpath / "sg_ouss_id").rglob("*"))  # no file before all folders
    monkeypatch.undo()
    package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    assert tree_listing(packpath) == tree_listing(reference)
    assert contents(packpath) == contents(reference)


def test_interrupted_move_is_recoverable_from_its_journal(project229: Path, tmp_path: Path, monkeypatch) -> None:
    sb3 = project229 / SB3
    before = contents(sb3)
    packpath = tmp_path / "2011.0.00229.S"
    real_symlink = os.symlink
    calls = {"n": 0}

    def crash_between_rename_and_link(src, dst, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 25:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real_symlink(src, dst, *args, **kwargs)

    monkeypatch.setattr(execute_module.os, "symlink", crash_between_rename_and_link)
    with pytest.raises(ExecutionError):
        package(sb3, packpath, PackageOptions(mode=Mode.MOVE))
    monkeypatch.undo()
    # The journal matches the disk: 24 files moved and linked, the 25th moved without its link.
    records = [line.rstrip("\n").split("\t") for line in moves_path(packpath).read_text().splitlines()]
    assert len(records) == 25
    for src, dst in records[:24]:
        assert Path(src).is_symlink() and os.readlink(src) == dst and Path(dst).is_file()
    src, dst = records[24]
    assert not os.path.lexists(src) and Path(dst).is_file()
    assert (packpath / MARKER).exists()
    # Running again rolls the interrupted run back (files return home) and then moves for real.
    package(sb3, packpath, PackageOptions(mode=Mode.MOVE))
    assert not (packpath / MARKER).exists()
    assert contents(sb3) == before  # nothing lost: every file reads the same at the origin
    assert all(p.is_symlink() for p in (sb3 / "X8c" / "uid___A002_X3c9295_X8c.ms.split.cal").rglob("*") if not p.is_dir())


def test_interrupted_append_is_rolled_back_without_touching_the_first_member(project229: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    packpath = tmp_path / "P"
    package(project229 / SB3, packpath, PackageOptions(mode=Mode.COPY))
    first = contents(packpath)
    monkeypatch.setitem(execute_module.TRANSFERS, Mode.COPY, lambda ex: failing_after(10, execute_module.copy_file))
    with pytest.raises(ExecutionError):
        package(project229 / SB4, packpath, PackageOptions(mode=Mode.COPY, append=Append.MEMBER))
    assert (packpath / "sg_ouss_id/group_ouss_id/member_ouss_id2").is_dir()
    monkeypatch.undo()
    # A fake-mode inspection of the package state after the roll-back: only the first member.
    package(project229 / SB4, packpath, PackageOptions(mode=Mode.COPY, append=Append.MEMBER))
    after = contents(packpath)
    assert {k: v for k, v in after.items() if "/member_ouss_id/" in k} == first
    assert any("/member_ouss_id2/raw/" in k for k in after)
    assert not any("member_ouss_id3" in k for k in after)


def test_failure_mid_run_exits_3_through_the_cli(project229: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(execute_module.TRANSFERS, Mode.HARD, lambda ex: failing_after(5, execute_module.hard_link))
    code = main(["package", str(project229 / SB3), str(tmp_path / "P"), "--mode", "hard"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILED_MIDRUN
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("qa2pack: error: failed while writing")
    assert (tmp_path / "P" / MARKER).exists()


def test_keyboard_interrupt_leaves_the_marker(project229: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    def interrupt(src: str, dst: str):
        raise KeyboardInterrupt

    monkeypatch.setitem(execute_module.TRANSFERS, Mode.FAKE, lambda ex: interrupt)
    assert main(["package", str(project229 / SB3), str(tmp_path / "P")]) == 130
    assert (tmp_path / "P" / MARKER).exists()
    assert "interrupted" in capsys.readouterr().err


def test_a_run_replacing_a_package_lets_an_entry_vanish_before_it_removes_it(project229: Path, tmp_path: Path,
                                                                              monkeypatch) -> None:
    # Another run's trial link in packpath came and went between this run's listing and removal.
    sb3 = project229 / SB3
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    real_listdir = os.listdir

    def with_a_ghost(path):
        found = real_listdir(path)
        return [*found, ".qa2pack-link-trial-1"] if Path(path) == packpath else found

    monkeypatch.setattr(execute_module.os, "listdir", with_a_ghost)
    package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    monkeypatch.undo()
    assert not (packpath / MARKER).exists()
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.HARD))
    assert tree_listing(packpath) == tree_listing(reference)


def test_preflight_makes_its_trial_links_beside_an_existing_packpath_not_in_it(project229: Path, tmp_path: Path,
                                                                               monkeypatch) -> None:
    from qa2pack.api import plan_package
    from qa2pack.run import preflight as preflight_module

    packpath = tmp_path / "2011.0.00229.S"
    packpath.mkdir()  # as another run that holds it has just made it
    trials: list[str] = []
    real_link = os.link

    def recording(src, dst, *args, **kwargs):
        trials.append(str(dst))
        return real_link(src, dst, *args, **kwargs)

    plan = plan_package(project229 / SB3, PackageOptions(mode=Mode.HARD), packpath)
    monkeypatch.setattr(preflight_module.os, "link", recording)
    preflight_module.preflight(plan, packpath)
    assert trials and all(Path(t).parent == tmp_path for t in trials), trials
    assert os.listdir(packpath) == []
