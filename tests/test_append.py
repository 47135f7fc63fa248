"""Append modes (the QA2 wiki's appended member), numbering by number, and the ''-replace rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import SB3, SB4, eb, project229_setup3, project229_setup4
from qa2pack import Append, Mode, PackageOptions, package
from qa2pack.core.errors import PackpathError
from qa2pack.formats.manifest import read_manifest

GROUP = "sg_ouss_id/group_ouss_id"


@pytest.fixture
def project229(build) -> Path:
    return build({**project229_setup3(), **project229_setup4()}, "project229")


def members(packpath: Path, group: str = "group_ouss_id") -> list[str]:
    return sorted(p.name for p in (packpath / "sg_ouss_id" / group).iterdir())


def test_seed_001_append_member_gives_member_ouss_id2(project229: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "2011.0.00229.S"
    package(project229 / SB3, packpath)
    readme1 = (packpath / GROUP / "member_ouss_id/README").read_text()
    package(project229 / SB4, packpath, PackageOptions(append=Append.MEMBER))
    assert members(packpath) == ["member_ouss_id", "member_ouss_id2"]
    second = packpath / GROUP / "member_ouss_id2"
    assert (second / "raw/uid___A002_X3c9295_X1e0.ms.split").is_dir()
    assert (second / "qa/X3c9295_X1e0.checklist.txt").is_file()
    # The first member is untouched, README included; the new README lists only its own member.
    assert (packpath / GROUP / "member_ouss_id/README").read_text() == readme1
    readme2 = (second / "README").read_text()
    assert "member_ouss_id2" in readme2 and "`-- member_ouss_id\n" not in readme2
    # The manifest covers the whole package.
    entries = read_manifest(tmp_path / "2011.0.00229.S.manifest.tsv").entries
    assert f"{GROUP}/member_ouss_id/README" in entries and f"{GROUP}/member_ouss_id2/README" in entries


def test_append_group_adds_group_ouss_id2(project229: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "P"
    package(project229 / SB3, packpath)
    package(project229 / SB4, packpath, PackageOptions(append=Append.GROUP))
    assert sorted(p.name for p in (packpath / "sg_ouss_id").iterdir()) == ["group_ouss_id", "group_ouss_id2"]
    assert members(packpath, "group_ouss_id2") == ["member_ouss_id"]
    assert (packpath / "sg_ouss_id/group_ouss_id2/member_ouss_id/raw/uid___A002_X3c9295_X1e0.ms.split").is_dir()


def test_append_product_joins_the_highest_member(project229: Path, tmp_path: Path, build) -> None:
    packpath = tmp_path / "P"
    package(project229 / SB3, packpath)
    package(project229 / SB4, packpath, PackageOptions(append=Append.MEMBER))
    extra = build({**eb("Extra/X9", "uid___A002_X3c9295_X9"), "Extra/scriptForImaging.py": "# clash\n"}, "extra")
    report = package(extra, packpath, PackageOptions(append=Append.PRODUCT))
    assert members(packpath) == ["member_ouss_id", "member_ouss_id2"]
    joined = packpath / GROUP / "member_ouss_id2"
    assert (joined / "raw/uid___A002_X3c9295_X9.ms.split").is_dir()
    assert (joined / "raw/uid___A002_X3c9295_X1e0.ms.split").is_dir()  # what was there stays
    # A name already taken in the member is never overwritten: the newcomer gets its prefix.
    assert (joined / "script/scriptForImaging.py").read_text() == ""  # fake mode: the first one, kept
    assert (joined / "script/Extra__scriptForImaging.py").exists()
    assert any(f.code == "name-collision" for f in report.findings)
    readme = (joined / "README").read_text()
    assert "uid___A002_X3c9295_X9.ms.split" in readme and "uid___A002_X3c9295_X1e0.ms.split" in readme


def test_append_product_with_two_members_makes_the_rest_new(build, tmp_path: Path) -> None:
    packpath = tmp_path / "P"
    package(build(eb("A/X1", "uid___A002_X11_X1"), "a"), packpath)
    two = build(eb("S1/X2", "uid___A002_X11_X2") | eb("S2/X3", "uid___A002_X11_X3"), "two")
    package(two, packpath, PackageOptions(append=Append.PRODUCT))
    assert members(packpath) == ["member_ouss_id", "member_ouss_id2"]
    assert (packpath / GROUP / "member_ouss_id/raw/uid___A002_X11_X2.ms.split").is_dir()
    assert (packpath / GROUP / "member_ouss_id2/raw/uid___A002_X11_X3.ms.split").is_dir()


def test_ten_members_then_append_goes_to_eleven(build, tmp_path: Path) -> None:
    layout = {}
    for n in range(1, 11):
        layout.update(eb(f"SB{n}/X{n}", f"uid___A002_X12_X{n}"))
    packpath = tmp_path / "P"
    package(build(layout, "ten"), packpath)
    assert members(packpath)[-1] == "member_ouss_id9"  # lexical order; the numbers decide below
    package(build(eb("SB11/X11", "uid___A002_X12_Xb"), "one"), packpath, PackageOptions(append=Append.MEMBER))
    assert (packpath / GROUP / "member_ouss_id11/raw/uid___A002_X12_Xb.ms.split").is_dir()
    package(build(eb("SB12/X12", "uid___A002_X12_Xc"), "two"), packpath, PackageOptions(append=Append.PRODUCT))
    assert (packpath / GROUP / "member_ouss_id11/raw/uid___A002_X12_Xc.ms.split").is_dir()


def test_append_into_a_folder_without_package_is_refused(project229: Path, tmp_path: Path) -> None:
    (tmp_path / "P").mkdir()
    with pytest.raises(PackpathError, match="holds no package"):
        package(project229 / SB4, tmp_path / "P", PackageOptions(append=Append.MEMBER))
    assert list((tmp_path / "P").iterdir()) == []


def test_replace_removes_only_a_package_we_made(project229: Path, tmp_path: Path) -> None:
    packpath = tmp_path / "P"
    package(project229 / SB3, packpath, PackageOptions(mode=Mode.COPY))
    package(project229 / SB4, packpath, PackageOptions(mode=Mode.FAKE))
    assert members(packpath) == ["member_ouss_id"]
    assert (packpath / GROUP / "member_ouss_id/raw/uid___A002_X3c9295_X1e0.ms.split").is_dir()
    assert not (packpath / GROUP / "member_ouss_id/raw/uid___A002_X3c9295_X8c.ms.split").exists()
    (packpath / "my_notes.txt").write_text("mine")
    with pytest.raises(PackpathError, match="my_notes.txt"):
        package(project229 / SB3, packpath)
    assert (packpath / "my_notes.txt").read_text() == "mine"
    assert (packpath / GROUP / "member_ouss_id/raw/uid___A002_X3c9295_X1e0.ms.split").is_dir()
