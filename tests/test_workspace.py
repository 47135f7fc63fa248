"""The QA2 workspace helpers: start, clear, fluxequal-start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from factories import SB3, project229_setup3
from qa2pack.analyst.casatables import make_asdm
from qa2pack.analyst.workspace import apply_clear, fluxequal_start, plan_clear, start
from qa2pack.cli import main
from qa2pack.core.errors import InputError

UIDS = ("uid___A002_Xdd9c61_X66d", "uid___A002_X4sda4d_Xa12")


@pytest.fixture
def downloaded(tmp_path: Path) -> Path:
    """An SB folder as qa2_download leaves it: the ASDMs side by side."""
    sb = tmp_path / "2013.1.12345.S" / "B6_IRAS12345"
    for uid in UIDS:
        make_asdm(sb / uid, uid)
    return sb


def test_start_makes_the_working_tree(downloaded: Path) -> None:
    report = start(downloaded)
    reduction = downloaded / "B6_IRAS12345"
    assert sorted(p.name for p in reduction.iterdir()) == ["X66d", "Xa12", "calibrated"]
    link = reduction / "X66d" / UIDS[0]
    assert link.is_symlink() and (link / "ASDMBinary").is_dir()
    names = sorted(p.name for p in downloaded.iterdir())
    assert names == sorted(["B6_IRAS12345", "Checklist_SB_B6_IRAS12345.txt",
                            f"Checklist_SB_B6_IRAS12345_{UIDS[0]}.txt", f"Checklist_SB_B6_IRAS12345_{UIDS[1]}.txt",
                            "README.header.txt", "packaging", *UIDS])
    assert "Project code: 2013.1.12345.S" in (downloaded / "README.header.txt").read_text()
    for mode in ("ticket", "hard"):
        script = (downloaded / "packaging" / mode / "run_packaging.py").read_text()
        compile(script, "run_packaging.py", "exec")
        assert f"mode='{mode}'" in script and f"origpath='{reduction}'" in script
        assert "packpath='./2013.1.12345.S'" in script
    assert set(report.eb_folders) == set(UIDS)
    with pytest.raises(InputError, match="has been started"):
        start(downloaded)


def test_start_then_package_with_the_generated_script(downloaded: Path) -> None:
    start(downloaded, move=True)
    eb = downloaded / "B6_IRAS12345" / "X66d"
    (eb / f"{UIDS[0]}.ms.scriptForCalibration.py").write_text("# calibration\n")
    folder = downloaded / "packaging" / "ticket"
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    member = folder / "2013.1.12345.S/sg_ouss_id/group_ouss_id/member_ouss_id"
    assert (member / "script" / f"{UIDS[0]}.ms.scriptForCalibration.py").stat().st_size > 0  # ticket: real
    assert (folder / "2013.1.12345.S.ticket.zip").is_file()


def test_clear_keeps_exactly_the_asdm_and_the_script(build) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    eb = sb3 / "X8c"
    plan = plan_clear(eb)
    assert sorted(p.name for p in plan.keep) == ["uid___A002_X3c9295_X8c",
                                                 "uid___A002_X3c9295_X8c.ms.scriptForCalibration.py"]
    apply_clear(plan)
    assert sorted(p.name for p in eb.iterdir()) == ["uid___A002_X3c9295_X8c",
                                                    "uid___A002_X3c9295_X8c.ms.scriptForCalibration.py"]
    assert (eb / "uid___A002_X3c9295_X8c" / "ASDMBinary").is_dir()
    assert (sb3 / "X528" / "uid___A002_X3dc0e7_X528.ms.split.cal").is_dir()  # other EBs untouched


@pytest.mark.parametrize("folder", ["X8c/qa2", "Combined", "."])
def test_clear_refuses_what_is_not_an_eb_folder(build, folder: str, capsys) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    target = sb3 / folder
    before = sorted(p.name for p in target.iterdir())
    assert main(["workspace", "clear", str(target), "--yes"]) == 2
    assert "is neither an EB folder" in capsys.readouterr().err
    assert sorted(p.name for p in target.iterdir()) == before


def test_clear_through_the_cli_asks_unless_yes(build, capsys, monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["workspace", "clear", str(sb3 / "X8c")]) == 2
    assert "confirm on a terminal, or pass --yes" in capsys.readouterr().err
    assert (sb3 / "X8c" / "uid___A002_X3c9295_X8c.ms").exists()
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["workspace", "clear", str(sb3 / "X8c")]) == 0
    assert "Nothing was removed." in capsys.readouterr().out
    assert main(["workspace", "clear", str(sb3 / "X8c"), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "Keeping the following files:" in out and "Deleting files ... done" in out
    assert not (sb3 / "X8c" / "uid___A002_X3c9295_X8c.ms").exists()


def test_fluxequal_start_links_split_cal_and_fluxscale(build) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    report = fluxequal_start(sb3)
    calibrated = sb3 / "calibrated"
    assert sorted(p.name for p in calibrated.iterdir()) == [
        "uid___A002_X3c9295_X8c.ms.split.cal", "uid___A002_X3c9295_X8c.ms.split.fluxscale",
        "uid___A002_X3dc0e7_X528.ms.split.cal", "uid___A002_X3dc0e7_X528.ms.split.fluxscale"]
    for link in calibrated.iterdir():
        assert link.is_symlink() and not os.path.isabs(os.readlink(link)) and link.exists()
    assert os.readlink(calibrated / "uid___A002_X3c9295_X8c.ms.split.cal") == "../X8c/uid___A002_X3c9295_X8c.ms.split.cal"
    assert len(report.linked) == 4
    again = fluxequal_start(sb3)
    assert not again.linked and len(again.existing) == 4
