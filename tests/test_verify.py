"""verify: catches what the archive's ingest would, by path; deliver is all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import SB3, project229_setup3
from qa2pack import package
from qa2pack.cli import main
from qa2pack.core.errors import InputError
from qa2pack.delivery import deliver as deliver_module
from qa2pack.delivery import verify as verify_module
from qa2pack.delivery.deliver import deliver, partial_path
from qa2pack.delivery.layout import MARKER
from qa2pack.delivery.tarsplit import tarsplit
from qa2pack.delivery.uids import DeliveryNaming
from qa2pack.delivery.verify import PackageView, check_against_manifest, verify_package, verify_tars
from qa2pack.formats import manifest as manifest_module
from qa2pack.formats.manifest import Manifest

PROJECT = "2011.0.00229.S"
MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"
MOUS = "uid___A001_X121_X229"
NAMED = DeliveryNaming(mous_uid=MOUS)


def kinds(report) -> set[tuple[str, str]]:
    return {(p.kind, p.path) for p in report.problems}


def test_a_fresh_copy_package_verifies(copy_package: Path) -> None:
    report = verify_package(copy_package)
    assert report.ok, report.problems
    assert report.checksums == report.files


def test_flipped_byte_missing_and_extra_files(copy_package: Path) -> None:
    png = copy_package / MEMBER / "qa/uid___A002_X3c9295_X8c__qa2_part1.png"
    data = bytearray(png.read_bytes())
    data[10] ^= 0xFF
    png.write_bytes(bytes(data))
    (copy_package / MEMBER / "log/ipython.log").unlink()
    (copy_package / MEMBER / "qa/notes.txt").write_text("extra")
    report = verify_package(copy_package)
    assert {("corrupted", f"{MEMBER}/qa/uid___A002_X3c9295_X8c__qa2_part1.png"),
            ("missing", f"{MEMBER}/log/ipython.log"),
            ("extra", f"{MEMBER}/qa/notes.txt")} <= kinds(report)
    # The README still lists the deleted log: the ingest check says so too.
    assert any(p.kind == "ingest" and "log/ipython.log" in p.message for p in report.problems)


def test_readme_naming_a_missing_file_symlink_and_duplicate_restore_scripts(copy_package: Path) -> None:
    readme = copy_package / MEMBER / "README"
    readme.write_text(readme.read_text().replace("|   |   |   |   |   |-- scriptForImaging.py\n",
                                                 "|   |   |   |   |   |-- scriptForImaging.py\n"
                                                 "|   |   |   |   |   |-- ghost.py\n"))
    os.symlink("scriptForImaging.py", copy_package / MEMBER / "script/link.py")
    for name in ("a.casa_piperestorescript.py", "b.casa_piperestorescript.py"):
        (copy_package / MEMBER / "script" / name).write_text("# restore\n")
    report = verify_package(copy_package, checksums=False)
    messages = [p.message for p in report.problems]
    assert any("README lists" in m and "script/ghost.py" in m for m in messages)
    assert ("ingest", f"{MEMBER}/script/link.py") in kinds(report)
    assert any("*casa_piperestorescript.py matches 2 files" in m for m in messages)


def test_layout_problems_and_placeholders_with_real_uids(copy_package: Path) -> None:
    (copy_package / "stray.txt").write_text("x")
    (copy_package / MEMBER / "plots").mkdir()
    (copy_package / MEMBER / "README").unlink()
    report = verify_package(copy_package, checksums=False, expect_uids=True)
    assert ("extra", "stray.txt") in kinds(report) and ("extra", f"{MEMBER}/plots") in kinds(report)
    assert ("ingest", f"{MEMBER}/README") in kinds(report)
    assert ("ingest", "sg_ouss_id") in kinds(report)  # placeholder where real uids were asked for


def test_tars_flipped_byte_empty_tar_missing_part_and_links(copy_package: Path, tmp_path: Path) -> None:
    result = tarsplit(copy_package, tmp_path / "tars", max_size=200_000, naming=NAMED)
    tars = [p for p, _, _ in result.tars]
    assert verify_tars(tars, copy_package.parent / f"{PROJECT}.manifest.tsv").ok
    data = bytearray(tars[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    tars[0].write_bytes(bytes(data))
    empty = tmp_path / "tars" / f"{PROJECT}_uid___A001_X121_X999_001_of_001.tar"
    empty.write_bytes(b"")
    report = verify_tars([*tars[:-1], empty])
    assert ("corrupted", tars[0].name) in kinds(report)
    assert ("ingest", empty.name) in kinds(report)
    assert ("missing", tars[-1].name) in kinds(report)  # a part of the set is missing
    linked = tmp_path / f"{PROJECT}_member_ouss_id_001_of_001.tar"  # a placeholder: the archive cannot file it
    with tarfile.open(linked, "w") as tar:
        for name in (PROJECT, f"{PROJECT}/sg_ouss_id"):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        link = tarfile.TarInfo(f"{PROJECT}/sg_ouss_id/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    report = verify_tars([linked])
    assert ("ingest", "sg_ouss_id/evil") in kinds(report)
    assert ("missing", linked.name + ".md5sum") in kinds(report)
    assert ("ingest", linked.name) in kinds(report)


def test_verify_cli_exit_codes_and_json(copy_package: Path, capsys) -> None:
    assert main(["verify", str(copy_package)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("OK:")
    assert any("Cycle 0" in line for line in out)  # the archive's README check cannot apply to 2011.0.*
    (copy_package / MEMBER / "log/ipython.log").write_text("changed")
    assert main(["verify", str(copy_package), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["counts"]["corrupted"] == 1
    assert data["problems"][0]["path"] == f"{MEMBER}/log/ipython.log"


def test_fake_packages_are_not_deliverable(build, tmp_path: Path) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    fake = tmp_path / "fake" / PROJECT
    package(sb3, fake)
    report = verify_package(fake)
    assert not report.ok and any("made in fake mode" in p.message for p in report.problems)
    assert verify_package(fake, fake_ok=True).ok


def test_deliver_writes_verified_tars_and_md5sums(copy_package: Path, tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    report = deliver(copy_package, dest, max_size=300_000, naming=NAMED)
    names = sorted(p.name for p in dest.iterdir())
    tars = [n for n in names if n.endswith(".tar")]
    assert tars and all(f"{t}.md5sum" in names for t in tars) and all(MOUS in t for t in tars)
    assert "md5sums.txt" in names and f"{PROJECT}_{MOUS}.ticket.zip" in names
    assert (dest / "md5sums.txt").read_text().count("\n") == len(tars) == len(report.tars)
    assert verify_tars([dest / t for t in tars]).ok
    with pytest.raises(InputError, match="exists already"):
        deliver(copy_package, dest, naming=NAMED)


def test_interrupted_deliver_leaves_no_dest(copy_package: Path, tmp_path: Path, monkeypatch) -> None:
    real = deliver_module.tarsplit

    def crash(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(deliver_module, "tarsplit", crash)
    dest = tmp_path / "delivery"
    with pytest.raises(OSError):
        deliver(copy_package, dest, max_size=300_000, naming=NAMED)
    assert not dest.exists() and partial_path(dest).exists()
    monkeypatch.undo()
    deliver(copy_package, dest, max_size=300_000, naming=NAMED)  # the stale partial folder is cleared first
    assert dest.is_dir() and not partial_path(dest).exists()


def test_deliver_refuses_a_broken_package_and_writes_nothing(copy_package: Path, tmp_path: Path, capsys) -> None:
    (copy_package / MEMBER / "qa/uid___A002_X3c9295_X8c__textfile.txt").write_text("edited after packaging")
    code = main(["deliver", str(copy_package), str(tmp_path / "delivery"), "--mous-uid", MOUS])
    assert code == 1
    assert "failed verification" in capsys.readouterr().err
    assert not (tmp_path / "delivery").exists() and not partial_path(tmp_path / "delivery").exists()


def test_two_calibration_scripts_for_one_eb_are_an_ingest_problem(copy_package: Path) -> None:
    script = copy_package / MEMBER / "script"
    (script / "X8c__uid___A002_X3c9295_X8c.ms.scriptForCalibration.py").write_text("# copy\n")
    report = verify_package(copy_package, checksums=False)
    assert any("2 calibration scripts for uid___A002_X3c9295_X8c" in p.message for p in report.problems)
    assert not any("uid___A002_X3dc0e7_X528" in p.message for p in report.problems if p.kind == "ingest")


def test_a_member_missing_from_the_tars_is_one_grouped_line(build, tmp_path: Path, capsys) -> None:
    from factories import FIG2
    from qa2pack import Mode, PackageOptions

    packpath = tmp_path / "pkg" / "2013.1.00230.S"
    package(build(FIG2), packpath, PackageOptions(mode=Mode.COPY))
    uids = tmp_path / "uids.txt"
    uids.write_text("member_ouss_id uid://A001/X121/X301\nmember_ouss_id2 uid://A001/X121/X302\n")
    dest = tmp_path / "delivery"
    assert main(["deliver", str(packpath), str(dest), "--uid-map", str(uids), "-q"]) == 0
    capsys.readouterr()
    manifest = packpath.parent / "2013.1.00230.S.manifest.tsv"
    first = sorted(dest.glob("*X301*.tar"))  # the second member's tars are left out
    report = verify_tars(first, manifest)
    second = "sg_ouss_id/group_ouss_id/member_ouss_id2"
    assert report.absent_members == {second}
    assert sum(1 for p in report.problems if p.kind == "missing" and p.path.startswith(second + "/")) > 10
    assert main(["verify", *map(str, first), "--manifest", str(manifest)]) == 1
    out = capsys.readouterr().out.splitlines()
    (line,) = [line for line in out if second in line]
    assert "missing" in line and "files (the member is in none of the tars; -v lists them)" in line
    assert len(out) < 6  # grouped: not hundreds of lines
    assert main(["verify", *map(str, first), "--manifest", str(manifest), "-v"]) == 1
    assert len(capsys.readouterr().out.splitlines()) > 10


def test_a_folder_made_by_deliver_verifies_as_a_delivery(copy_package: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "delivery"
    deliver(copy_package, dest, naming=NAMED)
    assert main(["verify", str(dest)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"OK: {dest}")
    (dest / "notes.txt").write_text("stray")
    md5sums = dest / "md5sums.txt"
    md5sums.write_text(md5sums.read_text().replace(MOUS, "uid___A001_X121_X999"))
    report = verify_package_or_delivery(dest)
    assert ("extra", "notes.txt") in kinds(report)
    assert any(p.kind == "missing" and p.path.startswith("md5sums.txt:") for p in report.problems)
    assert ("missing", f"{PROJECT}_uid___A001_X121_X999_001_of_001.tar") in kinds(report)


def verify_package_or_delivery(path: Path):
    from qa2pack.delivery.verify import is_delivery, verify_delivery

    assert is_delivery(path)
    return verify_delivery(path)


def test_a_manifest_that_is_not_text_is_one_line(copy_package: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"# qa2pack manifest 1\n\xff\xfe\x00binary")
    result = tarsplit(copy_package, tmp_path / "tars", naming=NAMED)
    code = main(["verify", *[str(p) for p, _, _ in result.tars], "--manifest", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "not UTF-8 text" in err and "Traceback" not in err


def test_commands_run_from_inside_the_package_name_it_by_its_folder(copy_package: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An analyst who cd's into the package and types '.' gets the same checks and tar names."""
    monkeypatch.chdir(copy_package / MEMBER)
    assert main(["verify", "../../..", "-q"]) == 0
    monkeypatch.chdir(copy_package)
    assert main(["verify", ".", "-q"]) == 0
    assert main(["tarsplit", ".", "--output", str(tmp_path / "tars"), "--mous-uid", MOUS, "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "tars").glob("*.tar")) == [f"{PROJECT}_{MOUS}_001_of_001.tar"]
    assert main(["deliver", ".", str(tmp_path / "delivered"), "--mous-uid", MOUS, "-q"]) == 0
    assert (tmp_path / "delivered" / f"{PROJECT}_{MOUS}_001_of_001.tar").is_file()


def test_a_manifest_naming_files_outside_the_package_reads_none_of_them(copy_package: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "pkg" / "secret.txt"
    outside.write_text("not the package's")
    manifest = copy_package.parent / f"{PROJECT}.manifest.tsv"
    head, _, body = manifest.read_text().partition("not computed in this mode\n")  # first: the helper's end
    manifest.write_text(f"{head}{_}0123456789abcdef0123456789abcdef\t17\t../secret.txt\n{body}")
    marker = tmp_path / "read-outside"  # a file, so that the forked helper's reads show too
    real = manifest_module.md5_and_size

    def reading(path: str) -> tuple[str, int]:
        if "secret" in path:
            marker.touch()
        return real(path)

    monkeypatch.setattr(manifest_module, "md5_and_size", reading)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    report = verify_package(copy_package)
    assert ("missing", "../secret.txt") in kinds(report)
    assert not marker.exists()


def test_a_grown_file_is_reported_with_the_size_its_hash_read(copy_package: Path) -> None:
    # Files the manifest gives an md5 are not stat'ed: the bytes their hash read are their size.
    png = copy_package / MEMBER / "qa/uid___A002_X3c9295_X8c__qa2_part1.png"
    listed = png.stat().st_size
    with open(png, "ab") as handle:
        handle.write(b"12345")
    report = verify_package(copy_package)
    (problem,) = [p for p in report.problems if p.kind == "corrupted"]
    assert problem.message == f"size {listed + 5}, the manifest says {listed}"


def test_a_member_folder_gone_from_a_package_is_named_absent(copy_package: Path) -> None:
    shutil.rmtree(copy_package / MEMBER)
    report = verify_package(copy_package)
    assert report.absent_members == {MEMBER}


def _add_extra(package: Path) -> None:
    (package / MEMBER / "qa/notes.txt").write_text("extra")


def _unhashed_row_of_another_size(package: Path) -> None:
    """A row with no md5: only its size is compared, and here it is off by one."""
    manifest = manifest_module.manifest_path(package)
    lines = manifest.read_text().splitlines(keepends=True)
    row = next(n for n, line in enumerate(lines) if line.endswith("/log/ipython.log\n"))
    _, size, rel = lines[row].split("\t")
    lines[row] = f"-\t{int(size) + 1}\t{rel}"
    manifest.write_text("".join(lines))


def _flip_a_byte(package: Path) -> None:
    png = package / MEMBER / "qa/uid___A002_X3c9295_X8c__qa2_part1.png"
    png.write_bytes(png.read_bytes()[:-1] + b"x")


_DAMAGES = {"none": lambda package: None, "extra": _add_extra, "unhashed size": _unhashed_row_of_another_size,
            "corrupted": _flip_a_byte, "missing": lambda package: (package / MEMBER / "log/ipython.log").unlink()}


@pytest.mark.parametrize("damage", list(_DAMAGES))
def test_a_package_found_whole_as_its_manifest_says_reports_what_one_by_one_does(copy_package: Path, damage: str,
                                                                                 monkeypatch) -> None:
    _DAMAGES[damage](copy_package)
    report = verify_package(copy_package)
    monkeypatch.setattr(verify_module, "_others_agree", lambda *_: False)
    one_by_one = verify_package(copy_package)
    assert report.problems == one_by_one.problems and report.checksums == one_by_one.checksums
    assert report.ok == (damage == "none") and report.files == one_by_one.files


_PATHS = st.sampled_from(["a/x", "a/y", "b/z", "b/w/v", MARKER])
_MD5S = st.sampled_from(["0" * 32, "1" * 32, "2" * 32])


@given(manifest=st.dictionaries(_PATHS, st.tuples(st.integers(0, 2), st.none() | _MD5S)),
       files=st.dictionaries(_PATHS, st.integers(0, 2)), md5=st.dictionaries(_PATHS, _MD5S), sizes=st.booleans())
def test_comparing_with_the_manifest_without_a_loop_finds_what_the_loop_finds(manifest, files, md5, sizes) -> None:
    """The check that the package agrees with its manifest as a whole gives the per-file comparison's answer."""
    view = PackageView("2019.1.00001.S", files=files, md5=md5)
    loaded = Manifest(entries=manifest)
    whole = check_against_manifest(view, loaded, sizes=sizes)
    with mock.patch.object(verify_module, "_all_agree", lambda *_: False):
        assert whole == check_against_manifest(view, loaded, sizes=sizes)
