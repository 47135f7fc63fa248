"""The analyst's day at a regional centre, step by step: download, start, fluxscale, clear, ticket, package,
deliver, publish; and the rough edges a new user met on the way."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from factories import SB3, eb, project229_setup3
from qa2pack import Append, Mode, PackageOptions, QA_Packager, Style, package, plan_package
from qa2pack.analyst.casatables import make_asdm
from qa2pack.analyst.download import download
from qa2pack.analyst.fluxscale import fluxscale
from qa2pack.analyst.publish import publish
from qa2pack.analyst.ticket import ticket
from qa2pack.analyst.workspace import apply_clear, fluxequal_start, plan_clear, start
from qa2pack.cli import main
from qa2pack.core.errors import InputError, PackpathError, UsageError
from qa2pack.core.model import FindingCode

PROJECT = "2013.1.12345.S"
SB = "B6_IRAS12345"
UIDS = ("uid___A002_Xdd9c61_X66d", "uid___A002_X4sda4d_Xa12")
FLUXSCALE = """\
2014-08-27 17:01:02\tINFO\tfluxscale::::\t Found reference field(s): J1751+0939
2014-08-27 17:01:02\tINFO\tfluxscale::::\t Flux density for J1751+0939 in SpW=0 (freq=2.16276e+11 Hz) is: \
2.22776 +/- 0.00677892 (SNR = 328.631, N = 9)
2014-08-27 17:01:02\tINFO\tfluxscale::::\t Flux density for J1851+0035 in SpW=0 (freq=2.16276e+11 Hz) is: \
0.26856 +/- 0.00338729 (SNR = 79.2846, N = 9)
2014-08-27 17:01:02\tINFO\tfluxscale::::\t Fitted spectrum for J1851+0035 with fitorder=1: Flux density = \
0.285309 +/- 0.00565662 (freq=223.031 GHz) spidx=-1.4004 +/- 0.573228
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- download ----------------------------------------------------------------------------------------


def asdm_tar(folder: Path, uid: str) -> bytes:
    make_asdm(folder / uid, uid)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder / uid, arcname=uid)
    return buffer.getvalue()


class Offer:
    """An archive page on 127.0.0.1: a listing of the ASDM tars and md5sums.txt, with ranges, and faults."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.drop_once: set[str] = set()  # names whose first transfer is cut halfway
        offer = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, directory=str(offer.root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                name = self.path.lstrip("/")
                path = offer.root / name
                if not name or not path.is_file():
                    return super().do_GET()
                data = path.read_bytes()
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if name in offer.drop_once:
                    offer.drop_once.discard(name)
                    self.wfile.write(data[start:start + (len(data) - start) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)  # the connection drops halfway
                    return
                self.wfile.write(data[start:])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def offer(tmp_path: Path) -> Iterator[Offer]:
    root = tmp_path / "offer"
    root.mkdir()
    sums = []
    for uid in UIDS:
        data = asdm_tar(tmp_path / "made", uid)
        (root / f"{uid}.tar").write_bytes(data)
        sums.append(f"{hashlib.md5(data).hexdigest()}  {uid}.tar")
    (root / "md5sums.txt").write_text("\n".join(sums) + "\n")
    served = Offer(root)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_download_fetches_checks_and_unpacks_and_resumes_a_dropped_transfer(offer: Offer, tmp_path: Path) -> None:
    offer.drop_once.add(f"{UIDS[0]}.tar")
    sb = tmp_path / PROJECT / SB
    report = download(offer.url, sb)
    assert report.ok and sorted(report.checked) == sorted(f"{u}.tar" for u in UIDS)
    assert report.resumed == {f"{UIDS[0]}.tar": 1}
    assert all((sb / uid / "ASDMBinary").is_dir() for uid in UIDS) and not list(sb.glob("*.part"))
    again = download(offer.url, sb)  # nothing fetched twice, nothing unpacked twice
    assert sorted(again.kept) == sorted(f"{u}.tar" for u in UIDS) and again.unpacked == [] and again.ok


def test_download_says_which_md5_failed_and_fetches_it_afresh_next_time(offer: Offer, tmp_path: Path,
                                                                        capsys) -> None:
    good = (offer.root / f"{UIDS[1]}.tar").read_bytes()
    (offer.root / f"{UIDS[1]}.tar").write_bytes(good[:-1] + b"x")  # corrupted on the server
    sb = tmp_path / SB
    code, out, _ = run(capsys, "workspace", "download", offer.url, str(sb))
    assert code == 3 and f"FAILED   {UIDS[1]}.tar: md5 " in out
    assert (sb / f"{UIDS[1]}.tar.md5-mismatch").is_file() and not (sb / f"{UIDS[1]}.tar").exists()
    assert (sb / UIDS[0] / "ASDMBinary").is_dir() and not (sb / UIDS[1]).exists()
    (offer.root / f"{UIDS[1]}.tar").write_bytes(good)
    code, out, _ = run(capsys, "workspace", "download", offer.url, str(sb))
    assert code == 0 and f"fetched  {UIDS[1]}.tar" in out and (sb / UIDS[1] / "ASDMBinary").is_dir()


def test_download_refuses_a_page_without_raw_data_in_one_line(offer: Offer, tmp_path: Path, capsys) -> None:
    (offer.root / "md5sums.txt").unlink()
    code, _, err = run(capsys, "workspace", "download", offer.url, str(tmp_path / SB))
    assert code == 2 and err.count("\n") == 1 and "links to no md5sums.txt" in err
    code, _, err = run(capsys, "workspace", "download", "ftp://example.org/x", str(tmp_path / SB))
    assert code == 2 and "not an http(s) address" in err


# -- start, fluxscale, clear ---------------------------------------------------------------------------


@pytest.fixture
def downloaded(tmp_path: Path) -> Path:
    sb = tmp_path / PROJECT / SB
    for uid in UIDS:
        make_asdm(sb / uid, uid)
    return sb


def test_start_without_an_sb_starts_the_only_one_and_lists_several(downloaded: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(downloaded.parent)
    code, out, _ = run(capsys, "workspace", "start")
    assert code == 0 and (downloaded / SB / "X66d").is_dir()
    other = downloaded.parent / "B3_OTHER"
    make_asdm(other / "uid___A002_X1_X1", "uid___A002_X1_X1")
    before = sorted(p.name for p in other.iterdir())
    code, out, _ = run(capsys, "workspace", "start")
    assert code == 0 and "several SB folders" in out and "qa2pack workspace start B3_OTHER" in out
    assert f"qa2pack workspace start {SB}" in out and sorted(p.name for p in other.iterdir()) == before
    code, _, err = run(capsys, "workspace", "start", str(downloaded.parent / "nothere"))
    assert code == 2 and "SB folder does not exist" in err


def test_start_puts_the_pi_script_in_from_the_option_or_the_configuration(downloaded: Path, tmp_path: Path,
                                                                          monkeypatch) -> None:
    script = tmp_path / "scriptForPI.py"
    script.write_text("# the site's scriptForPI.py\n")
    config = tmp_path / "site.toml"
    config.write_text(f'[workspace]\npi_script = "{script}"\n')
    monkeypatch.setenv("QA2PACK_CONFIG", str(config))
    start(downloaded)
    assert (downloaded / "scriptForPI.py").read_text() == "# the site's scriptForPI.py\n"
    assert f"PIscript='{downloaded / 'scriptForPI.py'}'" in (downloaded / "packaging/hard/run_packaging.py").read_text()


def test_a_started_workspace_packages_and_the_ticket_goes_to_jira(downloaded: Path) -> None:
    start(downloaded)  # EB folders hold links to the ASDMs, outside the reduction folder
    for uid, folder in zip(UIDS, ("X66d", "Xa12")):
        (downloaded / SB / folder / f"{uid}.ms.scriptForCalibration.py").write_text("# calibration\n")
    (downloaded / SB / "calibrated" / "scriptForImaging.py").write_text("# imaging\n")
    ticket_folder = downloaded / "packaging" / "ticket"
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=ticket_folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    jira = sorted(p.name for p in (ticket_folder / "JIRA").iterdir())
    assert jira == sorted([f"{PROJECT}.{SB}.ticket.zip", f"Checklist_SB_{SB}.txt",
                           *(f"Checklist_SB_{SB}_{uid}.txt" for uid in UIDS)])
    hard = downloaded / "packaging" / "hard"
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=hard, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    script = hard / PROJECT / "sg_ouss_id/group_ouss_id/member_ouss_id/script" / f"{UIDS[0]}.ms.scriptForCalibration.py"
    assert os.path.samefile(script, downloaded / SB / "X66d" / f"{UIDS[0]}.ms.scriptForCalibration.py")  # hard mode
    (downloaded / "README.header.txt").unlink()  # a failure is one line, not a traceback
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=hard, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip().count("\n") == 0
    assert done.stderr.startswith("qa2pack: error: readme file does not exist")


def test_the_ticket_command_does_what_the_script_does(downloaded: Path, capsys) -> None:
    start(downloaded)
    code, out, _ = run(capsys, "workspace", "ticket", str(downloaded))
    assert code == 0 and f"{PROJECT}.{SB}.ticket.zip" in out
    assert (downloaded / "packaging/ticket/JIRA" / f"{PROJECT}.{SB}.ticket.zip").is_file()
    report = ticket(downloaded)  # again: JIRA/ is brought up to date, nothing else in it is touched
    assert len(report.files) == 1 + 1 + len(UIDS)


def test_fluxscale_prints_each_ebs_calibrators_once(downloaded: Path, capsys) -> None:
    start(downloaded)
    for uid, folder in zip(UIDS, ("X66d", "Xa12")):
        (downloaded / SB / folder / f"{uid}.ms.split.fluxscale").write_text(FLUXSCALE)
    fluxequal_start(downloaded)  # links into calibrated/: not read twice
    found = fluxscale(downloaded)
    assert [f.path.name for f in found] == [f"{UIDS[0]}.ms.split.fluxscale", f"{UIDS[1]}.ms.split.fluxscale"]
    assert found[0].fluxes[0] == {"field": "J1751+0939", "spw": 0, "freq": 2.16276e11, "flux": 2.22776,
                                  "error": 0.00677892, "snr": 328.631, "n": 9}
    assert found[0].fits[0]["spidx"] == -1.4004
    code, out, _ = run(capsys, "workspace", "fluxscale", str(downloaded))
    assert code == 0 and out.count("Flux density for J1751+0939 in SpW=0 (freq=2.16276e+11 Hz) is: 2.22776") == 2
    assert "INFO" not in out


def test_clear_in_calibrated_keeps_the_flux_and_imaging_inputs(downloaded: Path) -> None:
    start(downloaded)
    calibrated = downloaded / SB / "calibrated"
    keep = ["uid___A002_Xdd9c61_X66d.ms.split.cal", "uid___A002_Xdd9c61_X66d.ms.split.fluxscale",
            "scriptForFluxCalibration.py", "scriptForImaging.py"]
    for name in keep + ["calibrated.ms.flagversions", "imaging.log", "target.image"]:
        (calibrated / name).write_text("x")
    plan = plan_clear(calibrated)
    assert sorted(p.name for p in plan.keep) == sorted(keep)
    apply_clear(plan)
    assert sorted(p.name for p in calibrated.iterdir()) == sorted(keep)
    with pytest.raises(InputError, match="neither an EB folder"):
        plan_clear(downloaded / "packaging")


# -- deliver and publish -------------------------------------------------------------------------------


@pytest.fixture
def delivery(build, tmp_path: Path) -> Path:
    sb = build(eb("SB/X1", "uid___A002_X8_X1") | {"SB/scriptForImaging.py": "# i\n", "SB/a.fits": "@fits"}) / "SB"
    packpath = tmp_path / PROJECT
    package(sb, packpath, PackageOptions(mode=Mode.COPY))
    assert main(["deliver", str(packpath), str(tmp_path / "delivery"), "--mous-uid", "uid://A001/X1/X2", "-q"]) == 0
    return tmp_path / "delivery"


def test_publish_links_the_delivery_and_says_what_to_tell_the_manager(delivery: Path, tmp_path: Path, capsys,
                                                                      monkeypatch) -> None:
    web = tmp_path / "public_html" / "earlyscience"
    web.mkdir(parents=True)
    config = tmp_path / "site.toml"
    config.write_text(f'[workspace]\npublish_dir = "{web}"\npublish_url = "https://node.example/~qa2/earlyscience"\n')
    monkeypatch.setenv("QA2PACK_CONFIG", str(config))
    code, out, _ = run(capsys, "workspace", "publish", str(delivery))
    assert code == 0 and "https://node.example/~qa2/earlyscience/delivery" in out and "1 tar" in out
    published = web / "delivery"
    assert sorted(p.name for p in published.iterdir()) == sorted(p.name for p in delivery.iterdir())
    assert all(os.path.samefile(p, delivery / p.name) for p in published.iterdir())  # links, no second copy
    code, _, err = run(capsys, "workspace", "publish", str(delivery))
    assert code == 2 and "exists already" in err
    monkeypatch.delenv("QA2PACK_CONFIG")
    with pytest.raises(UsageError, match="where to publish"):
        publish(delivery)


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs a second file system")
def test_publish_copies_across_file_systems(delivery: Path) -> None:
    web = Path("/dev/shm") / f"qa2pack-publish-{os.getpid()}"
    web.mkdir()
    try:
        report = publish(delivery, web)
        assert len(report.copied) == len(report.files) > 0
        assert all((web / "delivery" / p.name).read_bytes() == p.read_bytes() for p in delivery.iterdir())
    finally:
        subprocess.run(["rm", "-rf", str(web)], check=False)


# -- rough edges ---------------------------------------------------------------------------------------


@pytest.fixture
def sb3(build) -> Path:
    return build(project229_setup3(), "project229") / SB3


def test_appending_the_same_ebs_twice_is_refused_naming_the_member(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath)
    with pytest.raises(PackpathError, match="which sg_ouss_id/group_ouss_id/member_ouss_id holds already"):
        package(sb3, packpath, PackageOptions(append=Append.MEMBER))


def test_a_package_not_named_by_a_project_code_is_warned_about(sb3: Path, tmp_path: Path) -> None:
    report = package(sb3, tmp_path / "out")
    assert FindingCode.PACKPATH_NOT_PROJECT_CODE in [f.code for f in report.plan.findings]
    assert FindingCode.PACKPATH_NOT_PROJECT_CODE not in [f.code for f in plan_package(sb3).findings]  # inspect


def test_after_a_move_the_next_run_says_where_the_data_went(sb3: Path, tmp_path: Path) -> None:
    package(sb3, tmp_path / "A" / "2011.0.00229.S", PackageOptions(mode=Mode.MOVE))
    report = package(sb3, tmp_path / "B" / "2011.0.00229.S")
    moved = [f for f in report.plan.findings if f.code is FindingCode.MOVED_AWAY]
    assert len(moved) == 1 and str(tmp_path / "A" / "2011.0.00229.S") in moved[0].message


def test_manimgonly_warns_only_about_what_it_packages(sb3: Path) -> None:
    codes = {f.code for f in plan_package(sb3, PackageOptions(mode=Mode.MANIMGONLY)).findings}
    assert not codes & {FindingCode.MISSING_CALTABLE, FindingCode.MISSING_QA2, FindingCode.EB_WITHOUT_LOG}
    assert FindingCode.NO_PRODUCT in codes  # the demo has no *manual* image: that one means something


def test_broken_and_empty_fits_products_are_counted_warnings_in_our_words(build, capsys, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X8_X1") | {"SB/empty.fits": "", "SB/broken.fits": "not a FITS file\n"})
    report = package(root / "SB", tmp_path / PROJECT)
    unreadable = {f.paths[0]: f.message for f in report.plan.findings if f.code is FindingCode.UNREADABLE_FITS}
    assert "empty file (0 bytes)" in unreadable["empty.fits"]
    assert "not a FITS file" in unreadable["broken.fits"] and "ignore_missing_simple" not in str(unreadable)
    assert f"{len(report.plan.findings)} warning(s)" in report.summary()
    assert "ignore_missing_simple" not in capsys.readouterr().err


def test_missing_paths_are_said_to_be_missing(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "verify", str(tmp_path / "nothere"))
    assert code == 2 and err.strip() == f"qa2pack: error: does not exist: {tmp_path / 'nothere'}"


def test_run_accounts_use_the_right_numbers_and_words(sb3: Path, tmp_path: Path, capsys) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.COPY))
    assert main(["tarsplit", str(packpath), "--mous-uid", "uid://A001/X1/X2", "-q"]) == 0
    capsys.readouterr()
    tars = sorted(str(p) for p in tmp_path.glob("*_of_*.tar"))
    code, out, err = run(capsys, *["verify", *tars, "--manifest", str(tmp_path / "2011.0.00229.S.manifest.tsv")])
    assert code == 0, err
    assert " in 1 tar," in out and "1 tars" not in out
    files = json.loads(run(capsys, "verify", str(packpath), "--json")[1])
    assert files["checksums"] == files["files"]  # one checksum per file, no more

def test_a_log_line_names_a_few_ebs_and_counts_the_rest(build, tmp_path: Path) -> None:
    root = build({**{f"SB/X{n}/uid___A002_X9_X{n}": "@asdm" for n in range(1, 8)}, "SB/a.fits": "@fits"})
    package(root / "SB", tmp_path / PROJECT)
    log = (tmp_path / f"{PROJECT}.qa2pack.log").read_text()
    assert "7 EBs uid___A002_X9_X1, uid___A002_X9_X2, uid___A002_X9_X3, uid___A002_X9_X4, uid___A002_X9_X5 and 2 more" \
        in log


def test_the_original_keywords_of_qa_packager_are_accepted(sb3: Path, tmp_path: Path) -> None:
    report = QA_Packager(origpath=str(sb3), packpath=str(tmp_path / "2011.0.00229.S"), tablefolder="calibration",
                         tableplotsfolder="calibration", rawdatafolder="raw", caldatafolder="calibrated",
                         qafolder="qa", rawdatacopy=[".ms.split"], caldatacopy=[".ms.split.cal"], QA2_others=[],
                         required_folders_CAL=[".ms.split.bandpass*"], required_files_QA2=["textfile.txt"])
    assert report.plan.members
    with pytest.raises(UsageError, match="unknown keyword"):
        QA_Packager(origpath=str(sb3), packpath=str(tmp_path / "P"), tablefolders="x")
    with pytest.raises(UsageError, match="tableplotsfolder"):
        QA_Packager(origpath=str(sb3), packpath=str(tmp_path / "P"), tableplotsfolder="plots")


def test_the_pipeline_demo_stages_and_packages_a_current_run(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "demo", str(tmp_path / "demo"), "--pipeline")
    assert code == 0 and "staged it with its real uids" in out
    assert (tmp_path / "demo" / "2017.1.00886.L" / "science_goal.uid___A001_X1284_X265c").is_dir()


def test_a_delivery_with_calibrated_data_needs_no_restore(build, tmp_path: Path, capsys) -> None:
    sb = build(eb("SB/X1", "uid___A002_X8_X1") | {"SB/scriptForImaging.py": "# i\n", "SB/a.fits": "@fits"}) / "SB"
    packpath = tmp_path / PROJECT
    package(sb, packpath, PackageOptions(mode=Mode.COPY, style=Style.parse("cycle0")))  # MSs delivered
    assert main(["deliver", str(packpath), str(tmp_path / "d"), "--mous-uid", "uid://A001/X1/X2", "-q"]) == 0
    code, out, err = run(capsys, "restore-prep", *map(str, sorted((tmp_path / "d").glob("*.tar"))),
                         "--into", str(tmp_path / "r"))
    assert code == 0, err
    assert "holds calibrated data (calibrated/): it needs no restore" in out and "next:" not in out


def test_the_whole_day_on_the_demo_data(offer: Offer, tmp_path: Path, templates, capsys, monkeypatch) -> None:
    """Download, start, calibrate, fluxscale, clear, flux equalisation, ticket, hard package, deliver, publish."""
    from qa2pack.analyst.casatables import build_tree

    web = tmp_path / "public_html"
    web.mkdir()
    config = tmp_path / "site.toml"
    pi_script = tmp_path / "scriptForPI.py"
    pi_script.write_text("# scriptForPI.py\n")
    config.write_text(f'[workspace]\npi_script = "{pi_script}"\npublish_dir = "{web}"\n')
    monkeypatch.setenv("QA2PACK_CONFIG", str(config))
    project = tmp_path / PROJECT
    sb = project / SB
    assert run(capsys, "workspace", "download", offer.url, str(sb))[0] == 0
    monkeypatch.chdir(project)
    assert run(capsys, "workspace", "start")[0] == 0
    reduction = sb / SB
    for uid, folder in zip(UIDS, ("X66d", "Xa12")):  # the analyst calibrates each EB
        layout = {k.split("/", 1)[1]: v for k, v in eb(f"E/{folder}", uid).items() if not k.endswith(f"/{uid}")}
        build_tree(reduction, layout, templates)
        (reduction / folder / f"{uid}.ms.split.fluxscale").write_text(FLUXSCALE)
    code, out, _ = run(capsys, "workspace", "fluxscale", str(sb))
    assert code == 0 and out.count("Flux density for") == 4
    scratch = reduction / "X66d" / "scratch.log"
    scratch.write_text("a first try\n")
    assert run(capsys, "workspace", "clear", str(reduction / "Xa12"), "--yes")[0] == 0  # calibrate again
    assert sorted(p.name for p in (reduction / "Xa12").iterdir()) == [UIDS[1], f"{UIDS[1]}.ms.scriptForCalibration.py"]
    build_tree(reduction, {k.split("/", 1)[1]: v for k, v in eb("E/Xa12", UIDS[1]).items()
                           if not k.endswith(f"/{UIDS[1]}") and "scriptForCalibration" not in k}, templates)
    assert run(capsys, "workspace", "fluxequal-start", str(sb))[0] == 0
    calibrated = reduction / "calibrated"
    build_tree(calibrated, {"scriptForImaging.py": "# imaging\n", "target.cont.fits": "@fits",
                            "imaging.log": "log\n"}, templates)
    assert run(capsys, "workspace", "clear", str(calibrated), "--yes")[0] == 0  # a clean start for imaging
    build_tree(calibrated, {"target.cont.fits": "@fits", "imaging.log": "log\n"}, templates)
    code, out, _ = run(capsys, "workspace", "ticket", str(sb))
    assert code == 0 and (sb / "packaging/ticket/JIRA" / f"{PROJECT}.{SB}.ticket.zip").is_file()
    hard = sb / "packaging" / "hard"
    done = subprocess.run([sys.executable, "run_packaging.py"], cwd=hard, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    member = hard / PROJECT / "sg_ouss_id/group_ouss_id/member_ouss_id"
    assert (member / "script" / "scriptForPI.py").read_text() == "# scriptForPI.py\n"
    assert (member / "product" / "target.cont.fits").is_file() and (member / "log" / "imaging.log").is_file()
    assert sorted(p.name for p in (member / "calibration").iterdir()) == sorted(
        [f"{UIDS[0]}.calibration", f"{UIDS[1]}.calibration", f"{UIDS[0]}.calibration.plots",
         f"{UIDS[1]}.calibration.plots"])
    delivery = tmp_path / "delivery" / f"{PROJECT}_X66d"
    assert run(capsys, "deliver", str(hard / PROJECT), str(delivery), "--mous-uid", "uid://A001/X1284/X1ef2")[0] == 0
    code, out, _ = run(capsys, "workspace", "publish", str(delivery))
    assert code == 0 and str(web / delivery.name) in out
    assert run(capsys, "verify", str(web / delivery.name))[0] == 0
