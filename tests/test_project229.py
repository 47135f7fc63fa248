"""The project229 example of the QA2 wiki: the package must be the wiki's tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factories import SB3, project229_setup3, tree_listing
from qa2pack import Mode, PackageOptions, package
from qa2pack.planning.readme import parse_tree

# The QA2 wiki's output listing for IRC10216_setup3_b6_run_x2, verbatim.
SEED_001_OUTPUT = """\
|-- 2011.0.00229.S/
|   |-- sg_ouss_id/
|   |   |-- group_ouss_id/
|   |   |   |-- member_ouss_id/
|   |   |   |   |-- raw/
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528.ms.split/
|   |   |   |   |   |-- uid___A002_X3c9295_X8c.ms.split/
|   |   |   |   |-- qa/
|   |   |   |   |   |-- X528.checklist.txt
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528__qa2_part1.png
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528__textfile.txt
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__qa2_part1.png
|   |   |   |   |   |-- X8c.checklist.txt
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528__qa2_part3.png
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528__qa2_part2.png
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__qa2_part2.png
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__qa2_part3.png
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__textfile.txt
|   |   |   |   |-- script/
|   |   |   |   |   |-- scriptForImaging.py
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528.ms.scriptForCalibration.py
|   |   |   |   |   |-- uid___A002_X3c9295_X8c.ms.scriptForCalibration.py
|   |   |   |   |   |-- scriptForCalibration.py
|   |   |   |   |   |-- scriptForAprioriCalibration.py
|   |   |   |   |   |-- scriptForFluxCalibration.py
|   |   |   |   |-- log/
|   |   |   |   |   |-- ipython.log
|   |   |   |   |   |-- casapy-2012-05-03T115433.log
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__casapy-20120502-102144.log
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__ipython.log
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528__ipython-20120430-142604.log
|   |   |   |   |   |-- uid___A002_X3c9295_X8c__ipython-20120502-102151.log
|   |   |   |   |-- product/
|   |   |   |   |   |-- calibrated_all_setup3_b6.clean.fits
|   |   |   |   |-- calibrated/
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528.ms.split.cal/
|   |   |   |   |   |-- uid___A002_X3c9295_X8c.ms.split.cal/
|   |   |   |   |-- calibration/
|   |   |   |   |   |-- uid___A002_X3c9295_X8c.calibration.plots/
|   |   |   |   |   |-- uid___A002_X3c9295_X8c.calibration/
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528.calibration/
|   |   |   |   |   |-- uid___A002_X3dc0e7_X528.calibration.plots/
"""


def seed_paths(listing: str) -> set[str]:
    """Read the wiki listing into package-relative paths (below 2011.0.00229.S/)."""
    paths, stack = set(), []
    for line in listing.splitlines():
        depth = line.count("|   ")
        name = line.split("|-- ", 1)[1].rstrip("/")
        del stack[depth:]
        stack.append(name)
        if depth >= 1:
            paths.add("/".join(stack[1:]))
    return paths


def package_paths(packpath: Path, depth: int) -> set[str]:
    return {p.relative_to(packpath).as_posix() for p in packpath.rglob("*")
            if len(p.relative_to(packpath).parts) <= depth and p.name != "README"}


@pytest.fixture
def sb3(build):
    return build(project229_setup3(), "project229") / SB3


def test_fake_package_is_exactly_the_wiki_tree(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath)
    assert package_paths(packpath, 5) == seed_paths(SEED_001_OUTPUT)


def test_full_listing_matches_golden(sb3: Path, tmp_path: Path, update_golden: bool) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(readme=None))
    golden = Path(__file__).parent / "golden" / "project229_setup3_fake.txt"
    listing = "\n".join(tree_listing(packpath, collapse_tables=True)) + "\n"
    if update_golden:
        golden.write_text(listing)
    assert listing == golden.read_text()


def test_readme_tree_lists_the_package_to_the_archive_depth_and_counts_it(sb3: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath)
    readme = (packpath / "sg_ouss_id/group_ouss_id/member_ouss_id/README").read_text()
    root, paths, (dirs, files) = parse_tree(readme)
    assert root == "2011.0.00229.S"
    assert all((packpath / p).exists() for p in paths)
    # tree -L 5 from the project folder: science goal, group, member, its folders and their entries
    on_disk = [p for p in packpath.rglob("*") if len(p.relative_to(packpath).parts) <= 5]
    assert sorted(paths) == sorted(p.relative_to(packpath).as_posix() for p in on_disk)
    assert len(paths) + 1 == dirs + files  # the project folder is a line of the tree too
    assert files == sum(1 for p in on_disk if p.is_file())
    assert readme.splitlines()[-1] == f"{dirs} directories, {files} files"
    tree = readme.splitlines()[readme.splitlines().index("|-- 2011.0.00229.S/"):-2]
    assert all(line.startswith("|") for line in tree)
    assert all(line.endswith("/") == (packpath / path).is_dir() for line, path in zip(tree[1:], paths))


def test_fake_mode_gives_empty_files_and_copy_and_hard_give_real_data(sb3: Path, tmp_path: Path) -> None:
    fake, copy, hard = (tmp_path / m / "2011.0.00229.S" for m in ("fake", "copy", "hard"))
    package(sb3, fake, PackageOptions(mode=Mode.FAKE))
    package(sb3, copy, PackageOptions(mode=Mode.COPY))
    package(sb3, hard, PackageOptions(mode=Mode.HARD))

    def names(root: Path) -> list[str]:
        return [p.relative_to(root).as_posix() for p in sorted(root.rglob("*"))]

    assert names(fake) == names(copy) == names(hard)
    member = "sg_ouss_id/group_ouss_id/member_ouss_id"
    sources = {
        f"{member}/calibrated/uid___A002_X3c9295_X8c.ms.split.cal/table.f0":
            sb3 / "X8c/uid___A002_X3c9295_X8c.ms.split.cal/table.f0",
        f"{member}/qa/uid___A002_X3dc0e7_X528__qa2_part2.png": sb3 / "X528/qa2/qa2_part2.png",
        f"{member}/log/uid___A002_X3c9295_X8c__ipython.log": sb3 / "X8c/ipython.log",
        f"{member}/product/calibrated_all_setup3_b6.clean.fits": sb3 / "calibrated_all_setup3_b6.clean.fits",
    }
    for rel, source in sources.items():
        assert (fake / rel).stat().st_size == 0
        assert (copy / rel).read_bytes() == source.read_bytes()
        assert not os.path.samefile(copy / rel, source)
        assert (copy / rel).stat().st_mtime_ns == source.stat().st_mtime_ns
        assert os.path.samefile(hard / rel, source)
    data_files = [p for p in fake.rglob("*") if p.is_file() and p.name != "README"]
    assert data_files and all(p.stat().st_size == 0 for p in data_files)
    copied = [p for p in copy.rglob("*") if p.is_file() and p.name != "README"]
    assert all(p.stat().st_nlink == 1 for p in copied)
    linked = [p for p in hard.rglob("*") if p.is_file() and p.name != "README"]
    assert all(p.stat().st_nlink == 2 for p in linked)


def test_origpath_is_unchanged_by_copy_and_hard(sb3: Path, tmp_path: Path) -> None:
    before = tree_listing(sb3)
    package(sb3, tmp_path / "c" / "2011.0.00229.S", PackageOptions(mode=Mode.COPY))
    package(sb3, tmp_path / "h" / "2011.0.00229.S", PackageOptions(mode=Mode.HARD))
    assert tree_listing(sb3) == before


def test_not_packaged_paths_are_all_reported(sb3: Path, tmp_path: Path) -> None:
    report = package(sb3, tmp_path / "2011.0.00229.S")
    skipped = {s.source: s.reason for s in report.skipped}
    assert set(skipped) == {
        "X8c/uid___A002_X3c9295_X8c", "X528/uid___A002_X3dc0e7_X528",  # ASDMs
        "X8c/uid___A002_X3c9295_X8c.ms", "X528/uid___A002_X3dc0e7_X528.ms", "calibrated.ms",
        "X8c/uid___A002_X3c9295_X8c.ms.listobs", "X528/uid___A002_X3dc0e7_X528.ms.listobs",
        "IRC10216_setup3_b6_runx2.imaging.txt",
        "Combined/calibrated_all_setup3_b6.clean.image", "Combined/calibrated_all_setup3_b6.clean.residual",
    }
    assert "ASDM" in skipped["X8c/uid___A002_X3c9295_X8c"]
    assert "MS not packaged" in skipped["calibrated.ms"]
