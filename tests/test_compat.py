"""The legacy entry point: an analyst's run_packaging.py runs unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from factories import SB3, project229_setup3
from qa2pack import Qa2packError, QA_Packager
from qa2pack.core.errors import UsageError

RUN_PACKAGING = """\
from qa2pack import *

QA_Packager(origpath='{origpath}',readme='./README.header.txt',
packpath='./2011.0.00229.S',append='',mode='{mode}')
"""


@pytest.fixture
def sb3(build) -> Path:
    return build(project229_setup3(), "project229") / SB3


@pytest.mark.parametrize("mode", ["ticket", "hard"])
def test_run_packaging_script_from_seed_001_runs_unchanged(sb3: Path, tmp_path: Path, mode: str) -> None:
    work = tmp_path / "packaging" / mode
    work.mkdir(parents=True)
    (work / "README.header.txt").write_text("Project code: 2011.0.00229.S\n")
    (work / "run_packaging.py").write_text(RUN_PACKAGING.format(origpath=sb3, mode=mode))
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "qa2pack: INFO:" in done.stderr
    member = work / "2011.0.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id"
    assert (member / "README").read_text().startswith("Project code: 2011.0.00229.S\n")
    assert os.path.samefile(member / "script/scriptForImaging.py", sb3 / "scriptForImaging.py")
    assert (work / "2011.0.00229.S.ticket.zip").is_file() and (work / "2011.0.00229.S.ticket.tar").is_file()


def test_keywords_and_defaults_of_the_original(sb3: Path, tmp_path: Path) -> None:
    report = QA_Packager(origpath=str(sb3), packpath=str(tmp_path / "2011.0.00229.S"))
    assert report.plan.mode.value == "fake" and report.plan.append.value == ""
    pi = tmp_path / "scriptForPI.py"
    pi.write_text("# PI\n")
    report = QA_Packager(origpath=str(sb3), readme="", packpath=str(tmp_path / "2011.0.00229.S"), mode="copy",
                         style="cycle2-nopipe", append="", gzip_caltables=True, PIscript=str(pi), noms=False)
    member = tmp_path / "2011.0.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id"
    assert (member / "script/scriptForPI.py").read_text() == "# PI\n"
    assert not (member / "raw").exists()  # cycle2-nopipe: no MSs
    assert (member / "calibration/uid___A002_X3c9295_X8c.calibration.tgz").is_file()


def test_bad_values_raise_the_one_error_family(sb3: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown style 'cycle2-pipes'"):
        QA_Packager(origpath=str(sb3), packpath=str(tmp_path / "P"), style="cycle2-pipes")
    with pytest.raises(Qa2packError, match="needs packpath"):
        QA_Packager(origpath=str(sb3))
    assert not (tmp_path / "P").exists()
