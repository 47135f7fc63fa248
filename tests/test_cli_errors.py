"""Bad input through the CLI: one stderr line, a non-zero exit, no traceback, nothing written."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from factories import eb
from qa2pack.cli import main
from qa2pack.core import errors


@pytest.fixture
def sb(build) -> Path:
    return build(eb("SB/X1", "uid___A002_X8_X1") | {"SB/scriptForImaging.py": "# i\n", "SB/a.fits": "@fits"})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("qa2pack: error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0]


def nothing_written(tmp_path: Path, before: set[Path]) -> bool:
    return set(tmp_path.rglob("*")) == before


def snapshot(tmp_path: Path) -> set[Path]:
    return set(tmp_path.rglob("*"))


def test_missing_origpath(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "package", str(tmp_path / "nope"), str(tmp_path / "2011.0.00229.S"))
    assert code == errors.EXIT_BAD_INPUT
    assert_one_error_line(err, "origpath does not exist")
    assert not (tmp_path / "2011.0.00229.S").exists()


def test_origpath_is_a_file(capsys, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = run(capsys, "package", str(tmp_path / "f"), str(tmp_path / "P"))
    assert code == 2
    assert_one_error_line(err, "not a folder")


def test_unreadable_origpath(capsys, sb: Path, tmp_path: Path, monkeypatch) -> None:
    # Running as root defeats chmod, so the permission error is injected where the walk opens a folder.
    real_open = os.open

    def deny(path, flags, *args, **kwargs):
        if str(path).endswith("X1") and flags & os.O_DIRECTORY:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny)
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"))
    assert code == 2
    assert_one_error_line(err, "cannot read", "permission denied")
    assert nothing_written(tmp_path, before)


@pytest.mark.parametrize("inside", ["SB", "SB/packed", "SB/X1/deeper/P"])
def test_packpath_equal_to_or_inside_origpath(capsys, sb: Path, tmp_path: Path, inside: str) -> None:
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "orig" / inside))
    assert code == 2
    assert_one_error_line(err, "inside origpath")
    assert nothing_written(tmp_path, before)


def test_origpath_inside_packpath(capsys, sb: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "package", str(sb), str(tmp_path))
    assert code == 2
    assert_one_error_line(err, "inside packpath")


def test_no_asdm_products(capsys, build, tmp_path: Path) -> None:
    root = build({"SB/calibrated.ms": "@ms", "SB/scriptForImaging.py": "# i\n"}, "plain")
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(root), str(tmp_path / "P"))
    assert code == 2
    assert_one_error_line(err, "no ASDM products")
    assert nothing_written(tmp_path, before)


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--style", "cycle9-pipes", "unknown style 'cycle9-pipes'; valid styles: '' (default"),
    ("--style", "cycle1-pipe", "unknown style"),
    ("--mode", "symlink", "unknown mode 'symlink'; valid modes: fake, copy, hard, move, ticket, manimgonly"),
    ("--append", "members", "unknown append value 'members'"),
])
def test_unknown_style_mode_append(capsys, sb: Path, tmp_path: Path, option: str, value: str, needle: str) -> None:
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"), option, value)
    assert code == 2
    assert_one_error_line(err, needle)
    assert nothing_written(tmp_path, before)


def test_missing_readme(capsys, sb: Path, tmp_path: Path) -> None:
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"), "--readme", str(tmp_path / "README.h"))
    assert code == 2
    assert_one_error_line(err, "readme file does not exist")
    assert nothing_written(tmp_path, before)


def test_unknown_option_is_one_line_too(capsys, sb: Path, tmp_path: Path) -> None:
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"), "--colour")
    assert code == 2
    assert_one_error_line(err, "unrecognized arguments: --colour")


def test_foreign_packpath_is_never_deleted(capsys, sb: Path, tmp_path: Path) -> None:
    target = tmp_path / "2011.0.00229.S"
    target.mkdir()
    (target / "thesis.tex").write_text("years of work")
    code, _, err = run(capsys, "package", str(sb), str(target))
    assert code == 2
    assert_one_error_line(err, "not a qa2pack package", "thesis.tex", "nothing was removed")
    assert (target / "thesis.tex").read_text() == "years of work"


def test_trailing_slashes_are_accepted(capsys, sb: Path, tmp_path: Path) -> None:
    code, _, _ = run(capsys, "package", f"{sb}/", f"{tmp_path / '2011.0.00229.S'}/")
    assert code == 0
    assert (tmp_path / "2011.0.00229.S" / "sg_ouss_id").is_dir()
    assert (tmp_path / "2011.0.00229.S.ticket.zip").is_file()


def test_origpath_that_is_a_symlink_loop(capsys, tmp_path: Path) -> None:
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    code, _, err = run(capsys, "package", str(tmp_path / "loop"), str(tmp_path / "P"))
    assert code == 2
    assert_one_error_line(err, "symlink loop")


def test_symlink_loop_inside_origpath_is_reported_not_followed(capsys, sb: Path, tmp_path: Path) -> None:
    os.symlink("..", sb / "SB" / "X1" / "up")  # a folder link back to the SB folder
    os.symlink("self", sb / "self")  # a link to itself
    code, out, _ = run(capsys, "inspect", str(sb))
    assert code == 0
    assert "SB/X1/up  [symbolic link]  -> ..: link to a folder (use --follow-links)" in out
    assert "self  [symbolic link]  -> self: symlink loop" in out


def test_symlink_loop_with_follow_links_is_an_error(capsys, sb: Path, tmp_path: Path) -> None:
    os.symlink("..", sb / "SB" / "X1" / "up")
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"), "--follow-links")
    assert code == 2
    assert_one_error_line(err, "symlink loop: SB/X1/up -> ..")
    assert nothing_written(tmp_path, before)


def test_hard_mode_across_file_systems_suggests_copy(capsys, sb: Path, tmp_path: Path, monkeypatch) -> None:
    real_stat = os.stat

    class Other:
        def __init__(self, st):
            self._st = st

        def __getattr__(self, name):
            return real_stat_result_attr(self._st, name)

    def real_stat_result_attr(st, name):
        return st.st_dev + 1 if name == "st_dev" else getattr(st, name)

    def fake_stat(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        return Other(st) if str(path) == str(tmp_path) else st

    monkeypatch.setattr("qa2pack.run.preflight.os.stat", fake_stat)
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "package", str(sb), str(tmp_path / "P"), "--mode", "hard")
    assert code == 2
    assert_one_error_line(err, "different file systems; use --mode copy")
    assert nothing_written(tmp_path, before)


def test_hard_mode_across_real_file_systems(capsys, sb: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(sb).st_dev or not os.access(shm, os.W_OK):
        pytest.skip("no second writable file system here (the monkeypatched test covers the logic)")
    target = shm / f"qa2pack-test-{os.getpid()}" / "P"
    code, _, err = run(capsys, "package", str(sb), str(target), "--mode", "hard")
    assert code == 2
    assert_one_error_line(err, "different file systems; use --mode copy")
    assert not target.parent.exists()


def test_help_on_every_command(capsys) -> None:
    commands = ["package", "inspect", "demo", "config", "stage", "tarsplit", "verify", "deliver", "restore-prep",
                "workspace", "workspace start", "workspace clear", "workspace fluxequal-start"]
    for command in commands:
        assert main([*command.split(), "--help"]) == 0
        out, _ = capsys.readouterr()
        assert out.startswith(f"usage: qa2pack {command}")
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    assert all(f"    {c.split()[0]}" in top for c in commands)


def test_json_error_is_a_json_document(capsys, tmp_path: Path) -> None:
    import json

    code, out, err = run(capsys, "package", str(tmp_path / "nope"), str(tmp_path / "P"), "--json")
    assert code == 2
    assert json.loads(out)["error"].startswith("origpath does not exist")
    assert len(err.strip().splitlines()) == 1
