"""The pipeline stager (case 1), pipeline-style packaging of a staged tree (case 2), real uids."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import tree_listing
from qa2pack import Mode, OusUids, PackageOptions, QA_Pipeline_Stager, Style, package, stage
from qa2pack.analyst.casatables import make_asdm, make_fits
from qa2pack.analyst.pipeline_runs import CURRENT, CYCLE4, current_run, cycle4_run
from qa2pack.cli import main
from qa2pack.core.errors import PipelineRunError
from qa2pack.delivery.tarsplit import tarsplit
from qa2pack.delivery.verify import check_scripts, verify_package, verify_tars, view_from_folder
from qa2pack.pipeline.ppr import read_ppr

GOLDEN = Path(__file__).parent / "golden"
MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"


def golden(name: str, listing: list[str], update: bool) -> None:
    path = GOLDEN / name
    text = "\n".join(listing) + "\n"
    if update:
        path.write_text(text)
    assert text == path.read_text()


def test_ppr_is_read_like_the_archive_does(tmp_path: Path, realdata: Path) -> None:
    real = read_ppr(realdata / "sgrb2-3mm/script_12m/PPR_uid___A001_X121_X4bb.xml")
    assert real.project == "2013.1.00269.S"
    assert real.mous == "uid___A001_X121_X4ba"
    assert (real.sous, real.gous) == ("uid___A001_X121_X4b6", "uid___A001_X121_X4b7")
    assert list(real.sessions) == ["SESSION_1", "SESSION_2", "SESSION_3", "SESSION_4"]
    assert real.asdms[0] == "uid___A002_X95e355_X1f13"


def test_stage_a_cycle4_run(tmp_path: Path, update_golden: bool) -> None:
    run = cycle4_run(tmp_path / "runs")
    pi = tmp_path / "scriptForPI.py"
    pi.write_text("# scriptForPI\n")
    report = stage(run, tmp_path / "staged" / CYCLE4.project, Mode.COPY, pi_script=pi)
    staged = tmp_path / "staged" / CYCLE4.project
    golden("stage_cycle4.txt", tree_listing(staged), update_golden)
    weblog = run / "SOUS_uid___A001_X87c_X67/GOUS_uid___A001_X87c_X68/MOUS_uid___A001_X87c_X69/products"
    assert (staged / MEMBER / "qa/uid___A001_X87c_X69.weblog.tgz").read_bytes() == (
        weblog / "uid___A001_X87c_X69.weblog.tgz").read_bytes()
    assert {s.source for s in report.skipped} == {"working", "rawdata"}
    assert report.plan.members[0].eb_uids == tuple(CYCLE4.ebs)
    assert check_scripts(view_from_folder(staged)) == []


def test_stage_a_current_run_keeps_one_file_per_script_glob(tmp_path: Path, update_golden: bool) -> None:
    run = current_run(tmp_path / "runs", extra={"casa_pipescript.py": "# an old unprefixed copy\n"})
    report = stage(run, tmp_path / "staged" / CURRENT.project, Mode.FAKE)
    staged = tmp_path / "staged" / CURRENT.project
    golden("stage_current.txt", tree_listing(staged), update_golden)
    reasons = {s.source: s.reason for s in report.skipped}
    assert "kept uid___A001_X1284_X265f.hifa_calimage.casa_pipescript.py" in reasons["products/casa_pipescript.py"]
    scripts = sorted(p.name for p in (staged / MEMBER / "script").iterdir())
    assert [n for n in scripts if "PPR" in n or n.endswith("pprequest.xml")] == [
        "uid___A001_X1284_X265f.hifa_calimage.pprequest.xml"]  # the working/ copy of the PPR is not staged
    assert [f.code for f in report.findings] == ["no-pi-script"]
    assert verify_package(staged, fake_ok=True).ok


@pytest.mark.parametrize("where", ["run", "mous", "products"])
def test_pipeline_root_may_be_the_run_the_mous_or_products(tmp_path: Path, where: str) -> None:
    run = current_run(tmp_path / "runs")
    mous = next(run.glob("SOUS_*/GOUS_*/MOUS_*"))
    root = {"run": run, "mous": mous, "products": mous / "products"}[where]
    report = stage(root, tmp_path / "out" / "P")
    assert report.plan.extra["mous"] == CURRENT.mous
    assert (tmp_path / "out/P" / MEMBER / "script/uid___A001_X1284_X265f.hifa_calimage.pipeline_manifest.xml").exists()


def test_unknown_products_are_reported(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs", extra={"mystery.bin": "?", "README_JAO.txt": "notes"})
    report = stage(run, tmp_path / "P")
    reasons = {s.source: s.reason for s in report.skipped}
    assert reasons["products/mystery.bin"] == reasons["products/README_JAO.txt"] == \
        "a pipeline product no staging rule knows"


def test_real_uids_from_the_run_and_from_options(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    stage(run, tmp_path / "a" / "P", real_uids=True)
    levels = "science_goal.uid___A001_X1284_X265c/group.uid___A001_X1284_X265d/member.uid___A001_X1284_X265f"
    assert (tmp_path / "a/P" / levels / "README").is_file()
    uids = OusUids("uid___A001_X1284_X265c", "uid___A001_X1284_X265d", "uid___A001_X1284_X265f")
    stage(run, tmp_path / "b" / "P", ous_uids=uids)
    assert tree_listing(tmp_path / "a/P") == tree_listing(tmp_path / "b/P")
    assert verify_package(tmp_path / "a/P", fake_ok=True, expect_uids=True).ok


def test_package_with_ous_uids_from_the_cli_and_a_ppr(build, tmp_path: Path, capsys) -> None:
    from factories import eb

    root = build(eb("SB/X1", "uid___A002_X30_X1") | {"SB/a.fits": "@fits"})
    code = main(["package", str(root), str(tmp_path / "2017.1.00886.L"), "--mode", "copy", "--ous-uids",
                 "uid://A001/X1284/X265c,uid___A001_X1284_X265d,uid://A001/X1284/X265f", "-q"])
    assert code == 0
    member = (tmp_path / "2017.1.00886.L/science_goal.uid___A001_X1284_X265c/group.uid___A001_X1284_X265d"
              "/member.uid___A001_X1284_X265f")
    assert (member / "raw/uid___A002_X30_X1.ms.split").is_dir()
    assert verify_package(tmp_path / "2017.1.00886.L", expect_uids=True).ok
    result = tarsplit(tmp_path / "2017.1.00886.L", tmp_path / "tars")
    assert [p.name for p, _, _ in result.tars] == ["2017.1.00886.L_uid___A001_X1284_X265f_001_of_001.tar"]
    ppr = tmp_path / "ppr.xml"
    run = current_run(tmp_path / "runs")
    ppr.write_bytes(next(run.glob("*/*/*/products/*.pprequest.xml")).read_bytes())
    assert main(["package", str(root), str(tmp_path / "Q"), "--ppr", str(ppr), "-q"]) == 0
    assert (tmp_path / "Q/science_goal.uid___A001_X1284_X265c").is_dir()
    assert main(["package", str(root), str(tmp_path / "R"), "--ous-uids", "uid://A001/X1", "-q"]) == 2
    assert "needs three uids" in capsys.readouterr().err


def test_case2_package_a_staged_tree_after_script_for_pi(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "analysis" / CURRENT.project
    pi = tmp_path / "scriptForPI.py"
    pi.write_text("# scriptForPI\n")
    stage(run, staged, Mode.COPY, pi_script=pi, pipe_readme=None)
    # The analyst ran scriptForPI.py (raw/ and calibrated/ appear) and imaged in calibrated/.
    member = staged / MEMBER
    for eb in ("uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"):
        make_asdm(member / "raw" / f"{eb}.asdm.sdm", eb)
        (member / "calibrated" / f"{eb}.ms.split.cal").mkdir(parents=True)
        (member / "calibrated" / f"{eb}.ms.split.cal" / "table.info").write_text("Type = Measurement Set\n")
        (member / "calibrated" / f"{eb}.ms.split.cal" / "table.dat").write_bytes(b"\0" * 64)
    make_fits(member / "calibrated" / "Target.cont.image.pbcor.fits", size=32)
    (member / "calibrated" / "scriptForImaging.py").write_text("tclean(vis=...)\n")
    (member / "calibrated" / "casa-20180701-090000.log").write_text("imaging log\n")
    packpath = tmp_path / "final" / CURRENT.project
    report = package(tmp_path / "analysis", packpath, PackageOptions(mode=Mode.HARD, style=Style.parse("cycle4-pipe"),
                                                                     pi_script=pi))
    out = packpath / MEMBER
    kept = sorted(p.relative_to(staged / MEMBER).as_posix() for p in (staged / MEMBER).rglob("*")
                  if p.is_file() and p.parts[len((staged / MEMBER).parts)] in ("calibration", "qa", "script", "product", "log"))
    for rel in kept:
        assert (out / rel).is_file(), rel  # every staged product is kept where it was
    assert (out / "product/Target.cont.image.pbcor.fits").is_file()
    assert (out / "script/scriptForImaging.py").is_file()
    # calibrated/ holds several EBs: its log is a combined product and keeps its name (an imaging.log)
    assert [p.name for p in (out / "log").glob("*casa-20180701-090000.log")] == ["casa-20180701-090000.log"]
    assert not (out / "calibrated").exists() and not (out / "raw").exists()  # no MSs, no ASDMs
    reasons = {s.source: s.reason for s in report.skipped}
    assert "MS not packaged" in reasons[f"{CURRENT.project}/{MEMBER}/calibrated/uid___A002_Xc7111c_X3979.ms.split.cal"]
    assert verify_package(packpath).ok
    readme = (out / "README").read_text()
    assert "Target.cont.image.pbcor.fits" in readme and "weblog.tgz" in readme


def test_case2_also_works_before_anyone_restored_the_data(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "analysis" / "P"
    stage(run, staged, Mode.COPY)
    report = package(staged, tmp_path / "final" / "P", PackageOptions(style=Style.parse("cycle2-pipe1")))
    assert set(report.plan.members[0].eb_uids) == {eb for ebs in CURRENT.sessions.values() for eb in ebs}
    assert (tmp_path / "final/P" / MEMBER / "calibration/uid___A001_X1284_X265f.session_1.caltables.tgz").exists()


@pytest.mark.parametrize(("setup", "needle"), [
    ("plain", "is not an ALMA Science Pipeline run"),
    ("broken", "is not valid XML"),
    ("noref", "has no OUSStatusRef"),
    ("twoppr", "two PPRs"),
    ("empty", "holds no pipeline products"),
])
def test_bad_pipeline_inputs_through_the_cli(tmp_path: Path, capsys, setup: str, needle: str) -> None:
    run = current_run(tmp_path / "runs")
    products = next(run.glob("*/*/*/products"))
    ppr = next(products.glob("*.pprequest.xml"))
    if setup == "plain":
        run = tmp_path / "not_a_run"
        run.mkdir()
    elif setup == "broken":
        ppr.write_text("<SciPipeRequest><unclosed>")
    elif setup == "noref":
        ppr.write_text(ppr.read_text().replace("OUSStatusRef", "SomethingElse"))
    elif setup == "twoppr":
        (products / "PPR_uid___A001_X1284_X9999.xml").write_text(ppr.read_text())
    elif setup == "empty":
        for path in products.iterdir():
            if path != ppr:
                path.unlink()
        ppr.rename(products.parent / "working" / "PPR_extra.xml")
        (products.parent / "working" / "PPR_uid___A001_X1284_X265f.xml").unlink()
    code = main(["stage", str(run), str(tmp_path / "staged")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not (tmp_path / "staged").exists()


def test_qa_pipeline_stager_keeps_the_original_call(tmp_path: Path) -> None:
    run = cycle4_run(tmp_path / "runs")
    readme = tmp_path / "README_JAO"
    readme.write_text("Pipeline README for the PI\n")
    QA_Pipeline_Stager(str(run), str(tmp_path / "2016.1.00001.S"), mode="copy", PIscript="", PIPE_README=str(readme))
    text = (tmp_path / "2016.1.00001.S" / MEMBER / "README").read_text()
    assert text.startswith("Pipeline README for the PI\n")
    with pytest.raises(PipelineRunError):
        QA_Pipeline_Stager(str(tmp_path), str(tmp_path / "X"), mode="copy")


def test_auxiliary_products_go_to_the_auxiliary_tar(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "staged" / CURRENT.project
    stage(run, staged, Mode.COPY, real_uids=True)
    result = tarsplit(staged, tmp_path / "tars")
    names = [p.name for p, _, _ in result.tars]
    mous = CURRENT.mous
    assert names == [f"{CURRENT.project}_{mous}_auxiliary.tar", f"{CURRENT.project}_{mous}_001_of_001.tar"]
    import tarfile

    with tarfile.open(tmp_path / "tars" / names[0]) as tar:
        members = tar.getmembers()
    aux = sorted(m.name.rsplit("/", 1)[-1] for m in members if m.isfile())
    assert aux and all("aux" in n or n.endswith("pipeline_aquareport.xml") for n in aux)
    # Each folder leading to an auxiliary file comes once, before what it holds; no other folder comes.
    leading = {m.name.rsplit("/", n)[0] for m in members if m.isfile() for n in range(1, m.name.count("/") + 1)}
    folders = [m.name for m in members if m.isdir()]
    assert sorted(folders) == sorted(leading) and folders[0] == CURRENT.project
    order = [m.name for m in members]
    assert all(order.index(name.rsplit("/", 1)[0]) < i for i, name in enumerate(order) if name != CURRENT.project)
    with tarfile.open(tmp_path / "tars" / names[1]) as tar:
        main_files = [m.name for m in tar.getmembers() if m.isfile()]
    assert not [n for n in main_files if "aux" in n.rsplit("/", 1)[-1]]
    assert any(n.endswith("pipeline_manifest.xml") for n in main_files)  # scriptForPI.py needs it here
    assert verify_tars([tmp_path / "tars" / n for n in names]).ok


def test_a_pipeline_style_keeps_the_real_uids_of_a_staged_tree(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "analysis" / CURRENT.project
    stage(run, staged, Mode.COPY, real_uids=True)
    packpath = tmp_path / "final" / CURRENT.project
    package(staged, packpath, PackageOptions(mode=Mode.HARD, style=Style.parse("cycle7-pipe")))
    levels = "science_goal.uid___A001_X1284_X265c/group.uid___A001_X1284_X265d/member.uid___A001_X1284_X265f"
    assert (packpath / levels / "README").is_file() and not (packpath / "sg_ouss_id").exists()
    result = tarsplit(packpath, tmp_path / "tars")
    assert result.tars[-1][0].name == f"{CURRENT.project}_uid___A001_X1284_X265f_001_of_001.tar"


def test_what_scripts_for_pi_restore_left_is_not_delivered_again(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "analysis" / CURRENT.project
    stage(run, staged, Mode.COPY)
    member = staged / MEMBER
    # What a pipeline restore by scriptForPI.py leaves: work areas in calibrated/, and in calibration/
    # a copy of the manifest and the unpacked auxiliary products.
    working = member / "calibrated" / "working"
    (working / "uid___A002_Xc7111c_X3979.ms.hifa_bandpass.s6_3.spw16.tbl").mkdir(parents=True)
    (working / "uid___A002_Xc7111c_X3979.ms.hifa_bandpass.s6_3.spw16.tbl" / "table.info").write_text(
        "Type = Calibration\n")
    (working / "casa-20180701-090000.log").write_text("restore log\n")
    (member / "calibrated" / "rawdata").mkdir()
    (member / "calibrated" / "rawdata" / "uid___A001_X1284_X265f.session_1.caltables.tgz").write_text("copy")
    manifest = next((member / "script").glob("*pipeline_manifest.xml"))
    (member / "calibration" / manifest.name).write_bytes(manifest.read_bytes())
    (member / "calibration" / "cont.dat").write_text("Field: Target\n")
    packpath = tmp_path / "final" / CURRENT.project
    report = package(staged, packpath, PackageOptions(mode=Mode.HARD, style=Style.parse("cycle7-pipe")))
    reasons = {s.source: s.reason for s in report.skipped}
    assert "work area of scriptForPI.py's pipeline restore" in reasons[f"{MEMBER}/calibrated/working"]
    assert f"{MEMBER}/calibrated/rawdata/uid___A001_X1284_X265f.session_1.caltables.tgz" in reasons
    assert "restore added it to calibration/" in reasons[f"{MEMBER}/calibration/cont.dat"]
    assert "restore added it" in reasons[f"{MEMBER}/calibration/{manifest.name}"]
    out = packpath / MEMBER
    assert not (out / "calibration" / "cont.dat").exists() and not (out / "calibration" / manifest.name).exists()
    assert not list((out / "calibration").glob("*.calibration"))  # no caltables from the work area
    assert not (out / "log" / "casa-20180701-090000.log").exists()
    staged_files = {p.relative_to(member).as_posix() for p in member.rglob("*") if p.is_file()
                    and p.relative_to(member).parts[0] in ("calibration", "qa", "script", "product", "log")}
    delivered = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"README"}
    assert delivered == staged_files - {"calibration/cont.dat", f"calibration/{manifest.name}"}
