"""Mode invariants: move (links at the origin), ticket (real ticket, fake data), manimgonly, gzip."""

from __future__ import annotations

import os
import pwd
import tarfile
import zipfile
from pathlib import Path

import pytest

from factories import SB3, eb, project229_setup3, refuse_first_link, tree_listing
from qa2pack import Mode, PackageOptions, package
from qa2pack.delivery.verify import verify_package
from qa2pack.formats.manifest import read_manifest

MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"


@pytest.fixture
def sb3(build) -> Path:
    return build(project229_setup3(), "project229") / SB3


def test_move_leaves_a_link_per_file_and_real_folders(sb3: Path, tmp_path: Path) -> None:
    before = {p.relative_to(sb3).as_posix(): p.read_bytes() for p in sb3.rglob("*") if p.is_file()}
    packpath = tmp_path / "2011.0.00229.S"
    report = package(sb3, packpath, PackageOptions(mode=Mode.MOVE))
    moved = [(packpath / rel) for rel in read_manifest(tmp_path / "2011.0.00229.S.manifest.tsv").entries]
    assert moved
    links = [p for p in sb3.rglob("*") if p.is_symlink()]
    assert links and all(p.is_file() for p in links)  # every link resolves to a file in the package
    for link in links:
        target = Path(os.readlink(link))
        assert target.is_absolute() and packpath in target.parents
        assert not target.is_symlink()
    # Folders at the origin stay real folders (a CASA table becomes a folder of file links).
    ms = sb3 / "X8c" / "uid___A002_X3c9295_X8c.ms.split.cal"
    assert ms.is_dir() and not ms.is_symlink()
    assert all(p.is_symlink() for p in ms.rglob("*") if not p.is_dir())
    # Nothing lost: every original file reads the same through the origin path.
    after = {p.relative_to(sb3).as_posix(): p.read_bytes() for p in sb3.rglob("*") if p.is_file()}
    assert after == before
    # No link inside the package.
    assert not [p for p in packpath.rglob("*") if p.is_symlink()]
    # What was not packaged stays where it was, as a real file or folder.
    assert not (sb3 / "X8c/uid___A002_X3c9295_X8c.ms/table.dat").is_symlink()
    assert report.plan.mode is Mode.MOVE


def test_move_then_replace_moves_the_data_back_first(sb3: Path, tmp_path: Path) -> None:
    before = tree_listing(sb3)
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.MOVE))
    assert tree_listing(sb3) != before
    # Replacing the package (here with a fake one) must not destroy the only copy of the data.
    package(sb3, packpath, PackageOptions(mode=Mode.FAKE))
    assert tree_listing(sb3) == before
    assert not (tmp_path / "2011.0.00229.S.qa2pack-moves.tsv").exists()


@pytest.mark.parametrize("mode", [Mode.MOVE, Mode.COPY])
def test_packaging_a_moved_origin_again_into_its_package_packages_the_data(sb3: Path, tmp_path: Path, mode: Mode) -> None:
    """The origin holds links into the package: the replacing run brings the data back, then plans."""
    packpath = tmp_path / "2011.0.00229.S"
    first = package(sb3, packpath, PackageOptions(mode=Mode.MOVE))
    listing = tree_listing(packpath)
    again = package(sb3, packpath, PackageOptions(mode=mode))
    assert again.files == first.files and tree_listing(packpath) == listing
    assert any("back to their origin, to package them again" in note for note in again.notes)
    assert verify_package(packpath).ok


def test_ticket_mode_has_a_real_ticket_and_fake_data(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.TICKET))
    qa = packpath / MEMBER / "qa" / "uid___A002_X3dc0e7_X528__qa2_part1.png"
    assert os.path.samefile(qa, sb3 / "X528" / "qa2" / "qa2_part1.png")
    assert (packpath / MEMBER / "raw/uid___A002_X3c9295_X8c.ms.split/table.f0").stat().st_size == 0
    with zipfile.ZipFile(tmp_path / "2011.0.00229.S.ticket.zip") as archive:
        names = archive.namelist()
        for name in names:
            assert archive.getinfo(name).file_size > 0, name
        assert f"2011.0.00229.S/{MEMBER}/README" in names
        assert f"2011.0.00229.S/{MEMBER}/script/scriptForImaging.py" in names
        assert f"2011.0.00229.S/{MEMBER}/qa/X8c.checklist.txt" in names
        assert "2011.0.00229.S/expected_size.txt" in names
        assert not [n for n in names if "/raw/" in n or "/calibration/" in n]
        # Plots are compressed already: stored as they are; text is deflated.
        assert archive.getinfo(f"2011.0.00229.S/{MEMBER}/qa/uid___A002_X3dc0e7_X528__qa2_part1.png").compress_type \
            == zipfile.ZIP_STORED
        assert archive.getinfo(f"2011.0.00229.S/{MEMBER}/README").compress_type == zipfile.ZIP_DEFLATED
        assert archive.read(f"2011.0.00229.S/{MEMBER}/qa/uid___A002_X3dc0e7_X528__qa2_part1.png") == qa.read_bytes()
    with tarfile.open(tmp_path / "2011.0.00229.S.ticket.tar") as tar:
        assert sorted(tar.getnames()) == sorted(names)
        member = tar.extractfile(f"2011.0.00229.S/{MEMBER}/qa/uid___A002_X3c9295_X8c__textfile.txt")
        assert member is not None and member.read() == (sb3 / "X8c/qa2/textfile.txt").read_bytes()
        info = tar.getmember(f"2011.0.00229.S/{MEMBER}/qa/uid___A002_X3c9295_X8c__textfile.txt")
        source = (sb3 / "X8c/qa2/textfile.txt").stat()
        assert (info.mtime, info.mode, info.uname) == (int(source.st_mtime), source.st_mode & 0o7777,
                                                       pwd.getpwuid(source.st_uid).pw_name)
        assert not info.pax_headers  # whole seconds: no extra header per member


def test_fake_mode_ticket_members_are_empty_but_the_size_is_real(sb3: Path, tmp_path: Path) -> None:
    copy = package(sb3, tmp_path / "c" / "2011.0.00229.S", PackageOptions(mode=Mode.COPY))
    package(sb3, tmp_path / "f" / "2011.0.00229.S", PackageOptions(mode=Mode.FAKE))
    with zipfile.ZipFile(tmp_path / "f" / "2011.0.00229.S.ticket.zip") as archive:
        qa = archive.getinfo(f"2011.0.00229.S/{MEMBER}/qa/X8c.checklist.txt")
        assert qa.file_size == 0
        fake_size = archive.read("2011.0.00229.S/expected_size.txt").decode()
    with zipfile.ZipFile(tmp_path / "c" / "2011.0.00229.S.ticket.zip") as archive:
        copy_size = archive.read("2011.0.00229.S/expected_size.txt").decode()
    total = sum(p.stat().st_size for p in (tmp_path / "c" / "2011.0.00229.S").rglob("*") if p.is_file())
    # Both say how big the real package is (only the mode in the title differs).
    assert fake_size.splitlines()[2:] == copy_size.splitlines()[2:]
    assert fake_size.splitlines()[2].split()[0] == str(total) == str(copy.nbytes)
    assert f"{MEMBER}/raw" in fake_size


def test_manimgonly_packages_only_manual_files_and_scripts(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X10_X1") | {"SB/target_manual.fits": "@fits", "SB/auto.fits": "@fits",
                                                      "SB/scriptForImaging_manual.py": "# m\n"})
    packpath = tmp_path / "P"
    report = package(root, packpath, PackageOptions(mode=Mode.MANIMGONLY))
    files = {p.relative_to(packpath / MEMBER).as_posix() for p in (packpath / MEMBER).rglob("*") if p.is_file()}
    assert files == {"README", "product/target_manual.fits", "script/scriptForImaging_manual.py",
                     "script/uid___A002_X10_X1.ms.scriptForCalibration.py"}
    assert (packpath / MEMBER / "product/target_manual.fits").read_bytes() == (root / "SB/target_manual.fits").read_bytes()
    assert any("manimgonly" in s.reason for s in report.skipped if s.source == "SB/auto.fits")


def test_gzip_caltables_delivers_one_tgz_per_eb(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.HARD, gzip_caltables=True))
    calibration = packpath / MEMBER / "calibration"
    assert sorted(p.name for p in calibration.iterdir()) == [
        "uid___A002_X3c9295_X8c.calibration.plots", "uid___A002_X3c9295_X8c.calibration.tgz",
        "uid___A002_X3dc0e7_X528.calibration.plots", "uid___A002_X3dc0e7_X528.calibration.tgz"]
    with tarfile.open(calibration / "uid___A002_X3c9295_X8c.calibration.tgz") as tar:
        names = tar.getnames()
        table = "uid___A002_X3c9295_X8c.calibration/uid___A002_X3c9295_X8c.ms.split.bandpass/table.dat"
        assert table in names
        data = tar.extractfile(table)
        assert data is not None
        assert data.read() == (sb3 / "X8c/uid___A002_X3c9295_X8c.ms.split.bandpass/table.dat").read_bytes()
        assert "uid___A002_X3c9295_X8c.calibration/uid___A002_X3c9295_X8c.ms.split.fluxscale" in names
    readme = (packpath / MEMBER / "README").read_text()
    assert "uid___A002_X3c9295_X8c.calibration.tgz" in readme
    assert "ms.split.bandpass" not in readme


def test_pi_script_becomes_script_for_pi(sb3: Path, tmp_path: Path) -> None:
    pi = tmp_path / "scriptForPI.py"
    pi.write_text("# scriptForPI v1.34\n")
    (sb3 / "scriptForPI.py").write_text("# an old copy in the tree\n")
    packpath = tmp_path / "2011.0.00229.S"
    report = package(sb3, packpath, PackageOptions(mode=Mode.HARD, pi_script=pi))
    delivered = packpath / MEMBER / "script" / "scriptForPI.py"
    assert delivered.read_text() == "# scriptForPI v1.34\n"
    assert not os.path.samefile(delivered, pi)  # files from outside origpath are copied, never linked
    assert any(s.source == "scriptForPI.py" and "--pi-script" in s.reason for s in report.skipped)


@pytest.mark.parametrize(("style", "noms", "has_ms"), [
    ("", False, True), ("", True, False), ("cycle0", False, True), ("cycle0-nopipe", False, True),
    ("cycle1", False, False), ("cycle1-nopipe", False, False), ("cycle2-nopipe", False, False),
    ("cycle8-nopipe", False, False), ("cycle2-pipe1", False, False), ("cycle4-pipe", False, False),
    ("cycle0", True, False),
])
def test_styles_switch_measurement_sets(sb3: Path, style: str, noms: bool, has_ms: bool) -> None:
    from qa2pack import Style, plan_package

    plan = plan_package(sb3, PackageOptions(style=Style.parse(style), noms=noms))
    folders = {a.target.parts[3] for a in plan.actions if len(a.target.parts) > 4}
    assert ("raw" in folders and "calibrated" in folders) is has_ms
    assert "calibration" in folders and "qa" in folders


def test_fake_files_share_empty_inodes_and_leave_no_helper_behind(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath)
    assert not list(packpath.glob(".qa2pack-*"))
    fakes = [p for p in packpath.rglob("*") if p.is_file() and p.name != "README"]
    assert len({p.stat().st_ino for p in fakes}) == 1  # one empty inode, as cheap as cp -al


def test_empty_inodes_start_a_new_source_when_one_is_full(tmp_path: Path, monkeypatch) -> None:

    from qa2pack.run.execute import EmptyInodes

    recorded: list[str] = []
    empty = EmptyInodes(tmp_path, recorded.append, per_inode=3)
    for n in range(7):
        empty.link("", str(tmp_path / f"f{n}"))
    assert recorded == [".qa2pack-empty-0", ".qa2pack-empty-1", ".qa2pack-empty-2"]
    refuse_first_link(monkeypatch)
    empty.link("", str(tmp_path / "g"))
    assert recorded[-1] == ".qa2pack-empty-3"
    empty.remove_sources()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0", "f1", "f2", "f3", "f4", "f5", "f6", "g"]
    assert all(p.stat().st_size == 0 for p in tmp_path.iterdir())


def _protected_hardlinks() -> bool:
    try:
        return Path("/proc/sys/fs/protected_hardlinks").read_text().strip() == "1"
    except OSError:
        return False


DROP_PRIVILEGES = """
import importlib, os, pkgutil, sys
import qa2pack
for found in pkgutil.walk_packages(qa2pack.__path__, "qa2pack."):
    importlib.import_module(found.name)
for name in ("pwd", "locale", "gettext", "concurrent.futures", "tarfile", "zipfile", "json", "hashlib", "shutil"):
    importlib.import_module(name)
os.setgroups([])
os.setgid(65534)
os.setuid(65534)  # nobody: may read the root-owned files, may not hard-link them
from qa2pack.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not _protected_hardlinks(),
                    reason="needs root (to own the files) and the kernel's protected hard links")
def test_hard_links_the_kernel_refuses_are_found_before_anything_is_written(templates) -> None:
    import shutil
    import subprocess
    import sys
    import tempfile

    from factories import eb
    from qa2pack.analyst.casatables import build_tree

    base = Path(tempfile.mkdtemp(dir="/tmp"))  # outside pytest's private folders, so nobody can read it
    try:
        base.chmod(0o755)
        orig = build_tree(base / "orig", eb("SB/X1", "uid___A002_X60_X1") | {"SB/a.fits": "@fits"}, templates)
        for path in [orig, *orig.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        out = base / "out"
        out.mkdir()
        out.chmod(0o777)
        done = subprocess.run([sys.executable, "-c", DROP_PRIVILEGES, "package", str(orig), str(out / "2013.1.00001.S"),
                               "--mode", "hard"], capture_output=True, text=True, timeout=120, check=False,
                              env={**os.environ, "LANGUAGE": "C"})  # gettext reads no locale files then
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "protected hard links" in done.stderr and "--mode copy" in done.stderr
        assert sorted(p.name for p in out.iterdir()) == []  # nothing written, no lock file left
    finally:
        shutil.rmtree(base)
