"""restore-prep: safe unpacking, raw/ beside script/, ASDM and space checks, the restore PPR."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from factories import SB3, project229_setup3, tree_listing, write_tar
from qa2pack import Mode, PackageOptions, Style, package, stage
from qa2pack.analyst.casatables import make_asdm
from qa2pack.analyst.pipeline_runs import CURRENT, current_run
from qa2pack.cli import main
from qa2pack.core.errors import RestoreError, UnsafeArchiveError
from qa2pack.delivery.deliver import deliver
from qa2pack.delivery.uids import DeliveryNaming
from qa2pack.pipeline.ppr import read_ppr
from qa2pack.restore import unpack as unpack_module
from qa2pack.restore.members import space_factor
from qa2pack.restore.prepare import restore_prep
from qa2pack.restore.unpack import unpack_archive

PROJECT = "2011.0.00229.S"
MEMBER = f"{PROJECT}/sg_ouss_id/group_ouss_id/member_ouss_id"
X8C, X528 = "uid___A002_X3c9295_X8c", "uid___A002_X3dc0e7_X528"


def raw_tar(folder: Path, project: str, uid: str, prefix: str) -> Path:
    """A raw ASDM tar as the archive serves it (``prefix`` is the path the ASDM has inside)."""
    asdm = folder / "asdms" / uid
    make_asdm(asdm, uid)
    path = folder / f"{project}_{uid}.asdm.sdm.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(asdm, prefix)
    return path


@pytest.fixture
def delivered(build, tmp_path: Path) -> Path:
    sb3 = build(project229_setup3(), "project229") / SB3
    # A delivery as since Cycle 1: no MSs (raw/ and calibrated/ come from scriptForPI.py).
    package(sb3, tmp_path / "pkg" / PROJECT, PackageOptions(mode=Mode.COPY, style=Style.parse("cycle2-nopipe")))
    deliver(tmp_path / "pkg" / PROJECT, tmp_path / "delivery", naming=DeliveryNaming(mous_uid="uid___A001_X121_X229"))
    return tmp_path / "delivery"


def test_product_and_raw_tars_give_the_layout_script_for_pi_expects(delivered: Path, tmp_path: Path) -> None:
    raws = [raw_tar(tmp_path, PROJECT, X8C, f"{MEMBER}/raw/{X8C}.asdm.sdm"),  # with its package path
            raw_tar(tmp_path, PROJECT, X528, f"{X528}.asdm.sdm")]  # just the ASDM folder
    into = tmp_path / "restore"
    report = restore_prep([*sorted(delivered.glob("*_of_*.tar")), *raws], into, spacesaving=1)
    member = into / MEMBER
    assert sorted(p.name for p in member.iterdir()) == ["README", "calibration", "log", "product", "qa", "raw", "script"]
    assert sorted(p.name for p in (member / "raw").iterdir()) == [f"{X8C}.asdm.sdm", f"{X528}.asdm.sdm"]
    assert (member / "raw" / f"{X528}.asdm.sdm" / "ASDMBinary").is_dir()
    (only,) = report.members
    assert sorted(only.named_ebs) == [X8C, X528] and not only.missing and not only.semipass
    assert report.commands == [f"cd {member / 'script'} && casa -c \"SPACESAVING=1; execfile('scriptForPI.py')\""]
    raw_size = sum(p.stat().st_size for p in (member / "raw").rglob("*") if p.is_file())
    assert report.needed == (7 + 3) * raw_size  # scriptForFluxCalibration.py present: f = 1


def test_a_missing_asdm_is_named(delivered: Path, tmp_path: Path, capsys) -> None:
    raw = raw_tar(tmp_path, PROJECT, X8C, f"{X8C}.asdm.sdm")
    code = main(["restore-prep", str(delivered), str(raw), "--into", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"no ASDM in raw/ for {X528} (named in script/{X528}.ms.scriptForCalibration.py)" in err


def test_extra_asdm_is_reported_as_semipass(delivered: Path, tmp_path: Path) -> None:
    extra = "uid___A002_X3c9295_X99"
    raws = [raw_tar(tmp_path, PROJECT, uid, f"{uid}.asdm.sdm") for uid in (X8C, X528, extra)]
    report = restore_prep([delivered, *raws], tmp_path / "r")
    assert report.members[0].semipass == [extra]
    assert any("semipass" in w for w in report.warnings)


def test_existing_calibrated_folder_is_refused(delivered: Path, tmp_path: Path) -> None:
    raws = [raw_tar(tmp_path, PROJECT, uid, f"{uid}.asdm.sdm") for uid in (X8C, X528)]
    into = tmp_path / "r"
    restore_prep([delivered, *raws], into)
    (into / MEMBER / "calibrated").mkdir()
    with pytest.raises(RestoreError, match="calibrated exists already"):
        restore_prep([tmp_path / "asdms" / X8C], into)


@pytest.mark.parametrize(("spacesaving", "extra", "factor"), [
    (0, False, 11), (0, True, 14), (1, False, 7), (1, True, 10), (2, False, 3), (2, True, 6), (3, False, 3), (3, True, 6),
])
def test_disk_estimate_follows_script_for_pi(spacesaving: int, extra: bool, factor: int) -> None:
    assert space_factor(spacesaving, extra) == factor


def test_not_enough_space_is_refused_before_anything_is_written(delivered: Path, tmp_path: Path,
                                                                monkeypatch) -> None:
    raws = [raw_tar(tmp_path, PROJECT, uid, f"{uid}.asdm.sdm") for uid in (X8C, X528)]
    real = os.statvfs
    unpacked = sum(e.size for tar in [*delivered.glob("*.tar"), *raws] for e in unpack_module.list_tar(tar).entries)
    room = unpacked + unpack_module._SPACE_MARGIN + 4096
    raw_bytes = sum(p.stat().st_size for p in (tmp_path / "asdms").rglob("*") if p.is_file())
    assert 14 * raw_bytes > 4096

    def tight(path):
        found = real(path)  # room to unpack, not for what scriptForPI.py will write
        return os.statvfs_result((found.f_bsize, 1, room, room, room, found.f_files, found.f_ffree,
                                  found.f_favail, found.f_flag, found.f_namemax))

    monkeypatch.setattr(unpack_module.os, "statvfs", tight)
    into = tmp_path / "r"
    with pytest.raises(RestoreError, match=r"for scriptForPI.py \(SPACESAVING=0: 14 x .*nothing was written"):
        restore_prep([delivered, *raws], into, spacesaving=0)
    assert not into.exists()


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink_out_then_file", "symlink_in_then_file",
                                  "hardlink_out", "device", "fifo"])
def test_hostile_tars_are_refused_and_nothing_lands_outside(tmp_path: Path, case: str) -> None:
    into = tmp_path / "target"
    into.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    before = tree_listing(tmp_path)
    ok = (_info("P/ok.txt"), b"fine")
    members = {
        "dotdot": [ok, (_info("P/../../outside/evil"), b"x")],
        "absolute": [ok, (_info(str(outside / "evil")), b"x")],
        "symlink_out_then_file": [ok, (_info("P/link", tarfile.SYMTYPE, "../../outside"), None),
                                  (_info("P/link/evil"), b"x")],
        "symlink_in_then_file": [ok, (_info("P/sub", tarfile.DIRTYPE), None),
                                 (_info("P/link", tarfile.SYMTYPE, "sub"), None), (_info("P/link/evil"), b"x")],
        "hardlink_out": [ok, (_info("P/passwd", tarfile.LNKTYPE, str(outside / "secret")), None)],
        "device": [ok, (_info("P/null", tarfile.CHRTYPE), None)],
        "fifo": [ok, (_info("P/pipe", tarfile.FIFOTYPE), None)],
    }[case]
    archive = write_tar(tmp_path / f"{case}.tar", members)
    before = tree_listing(tmp_path)
    with pytest.raises(UnsafeArchiveError) as caught:
        unpack_archive(archive, into)
    assert archive.name in str(caught.value) and "refused" in str(caught.value)
    assert tree_listing(tmp_path) == before  # nothing kept, inside or outside
    assert (outside / "secret").read_text() == "keep me"


def test_write_ppr_names_every_eb(delivered: Path, tmp_path: Path) -> None:
    raws = [raw_tar(tmp_path, PROJECT, uid, f"{uid}.asdm.sdm") for uid in (X8C, X528)]
    with pytest.raises(RestoreError, match="calibrated by its scriptForCalibration.py scripts; a restore PPR is for "
                                           "pipeline-calibrated data"):
        restore_prep([delivered, *raws], tmp_path / "r", write_ppr=True)
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_pipeline_delivery_restore_with_ppr(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    pi = tmp_path / "scriptForPI.py"
    pi.write_text("# scriptForPI\n")
    project = CURRENT.project
    stage(run, tmp_path / "staged" / project, Mode.COPY, pi_script=pi, real_uids=True)
    deliver(tmp_path / "staged" / project, tmp_path / "delivery")
    ebs = [eb for ebs in CURRENT.sessions.values() for eb in ebs]
    raws = [raw_tar(tmp_path, project, eb, f"{eb}.asdm.sdm") for eb in ebs]
    into = tmp_path / "r"
    report = restore_prep([tmp_path / "delivery", *raws], into, spacesaving=2, write_ppr=True)
    (member,) = report.members
    assert member.pipeline and sorted(member.named_ebs) == sorted(ebs)
    assert "casa --pipeline -c \"SPACESAVING=2;" in report.commands[0]
    written = read_ppr(Path(report.pprs[0]))
    assert written.project == project and written.mous == CURRENT.mous
    assert (written.sous, written.gous) == (CURRENT.sous, CURRENT.gous)
    assert written.sessions == {k: tuple(v) for k, v in CURRENT.sessions.items()}
    assert sorted(written.asdms) == sorted(ebs) and written.recipe == "hifa_restoredata"
    assert not list((member.folder / "script").glob("PPR_*_restore.xml"))  # the PPR is not put in script/
    assert os.path.isfile(report.pprs[0])


def test_sessions_the_pipelines_ppr_reader_would_skip_are_warned_about(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    project = CURRENT.project
    (ppr,) = run.rglob("products/*.pprequest.xml")
    ppr.write_text(ppr.read_text().replace("SESSION_1<", "SESSION_4<"))  # sessions 2, 3, 4: none is SESSION_1
    staged = tmp_path / "staged" / project
    stage(run, staged, Mode.COPY)
    deliver(staged, tmp_path / "delivery")
    ebs = [eb for ebs in CURRENT.sessions.values() for eb in ebs]
    raws = [raw_tar(tmp_path, project, eb, f"{eb}.asdm.sdm") for eb in ebs]
    report = restore_prep([tmp_path / "delivery", *raws], tmp_path / "r")
    (warning,) = [w for w in report.warnings if "PPR reader" in w]
    assert "skips SESSION_2, SESSION_3, SESSION_4" in warning
