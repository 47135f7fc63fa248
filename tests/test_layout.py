"""The delivery layout: levels, paths, tar names, and the real uids a delivery is named after."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa2pack import Mode, stage
from qa2pack.analyst.pipeline_runs import CURRENT, current_run
from qa2pack.core.errors import InputError, UsageError
from qa2pack.delivery.layout import (
    Position,
    archive_recognises,
    inside_member,
    is_project_code,
    is_readme,
    level_of,
    list_groups,
    member_of,
    members_of,
    package_folder_of,
    parse_tar_name,
    position_of,
    real_uid_member_path,
    uids_of_member_path,
)
from qa2pack.delivery.tarsplit import find_units
from qa2pack.delivery.uids import DeliveryNaming, name_folders, read_uid_map

MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"
REAL = "science_goal.uid___A001_X1_X2/group.uid___A001_X1_X3/member.uid___A001_X1_X4"
FOLDERS = {"calibration", "product", "qa", "script", "log", "raw", "calibrated"}


@pytest.mark.parametrize(("path", "is_dir", "position", "level"), [
    ("sg_ouss_id", True, Position.LEVEL_FOLDER, 0),
    ("sg_ouss_id/group_ouss_id2", True, Position.LEVEL_FOLDER, 1),
    (REAL, True, Position.LEVEL_FOLDER, 2),
    ("sg_ouss_id", False, Position.OUTSIDE, -1),  # a file cannot be a level
    (f"{MEMBER}/README", False, Position.MEMBER_ITEM, -1),
    (f"{MEMBER}/product", True, Position.MEMBER_ITEM, -1),
    (f"{MEMBER}/notes", True, Position.OUTSIDE, -1),
    (f"{MEMBER}/product/a.fits", False, Position.CONTENT, -1),
    ("sg_ouss_id/group_ouss_id/product", True, Position.GROUP_ITEM, -1),  # group-level products
    ("sg_ouss_id/group_ouss_id/product/a.fits", False, Position.CONTENT, -1),
    ("sg_ouss_id/group_ouss_id/stray.txt", False, Position.OUTSIDE, -1),
    ("stray", True, Position.OUTSIDE, -1),
])
def test_every_path_has_one_position_in_the_layout(path: str, is_dir: bool, position: Position, level: int) -> None:
    assert position_of(path, is_dir, FOLDERS) == (position, level)


def test_paths_inside_members_and_the_uids_their_folders_carry() -> None:
    assert inside_member(f"{MEMBER}/calibration/x.tgz") == "calibration/x.tgz"
    assert inside_member(f"{REAL}/README") == "README"
    assert inside_member(MEMBER) is None and inside_member("a/b/c/d") is None
    assert str(real_uid_member_path(f"run/{REAL}")) == REAL and real_uid_member_path(MEMBER) is None
    assert uids_of_member_path(REAL.split("/")) == ("uid___A001_X1_X2", "uid___A001_X1_X3", "uid___A001_X1_X4")
    assert uids_of_member_path(["member.uid___A001_X1_X4"]) == (None, None, "uid___A001_X1_X4")
    assert uids_of_member_path(MEMBER.split("/")) == (None, None, None)


@pytest.mark.parametrize(("path", "level", "member", "folder"), [
    ("sg_ouss_id", 0, None, None),
    ("sg_ouss_id/group_ouss_id2", 1, None, None),
    (MEMBER, 2, MEMBER, None),
    (f"{MEMBER}/calibration/x.tgz", None, MEMBER, "calibration"),
    (f"{REAL}/script/scriptForPI.py", None, REAL, "script"),
    ("sg_ouss_id/other/member_ouss_id", None, None, None),
])
def test_paths_are_placed_in_the_levels(path: str, level: int | None, member: str | None, folder: str | None) -> None:
    assert level_of(path.split("/")) == level
    assert member_of(path) == member
    assert package_folder_of(path) == folder


def test_readmes_sit_in_member_folders() -> None:
    assert is_readme(f"{MEMBER}/README") and is_readme(f"{REAL}/README")
    assert not is_readme("sg_ouss_id/group_ouss_id/README") and not is_readme(f"{MEMBER}/qa/README")


@pytest.mark.parametrize(("name", "parsed"), [
    ("2017.1.01419.S_uid___A001_X1284_X1ef2_001_of_002.tar", ("2017.1.01419.S", "uid___A001_X1284_X1ef2", 1, 2)),
    ("2017.1.01419.S_uid___A001_X1284_X1ef2_auxiliary.tar", ("2017.1.01419.S", "uid___A001_X1284_X1ef2", 0, 0)),
    ("2011.0.00229.S_member_ouss_id_001_of_001.tar", ("2011.0.00229.S", "member_ouss_id", 1, 1)),
    ("P_uid___A001_X1_X2_001_of_001.tar", None),
])
def test_tar_names_parse(name: str, parsed: tuple | None) -> None:
    assert parse_tar_name(name) == parsed


def test_project_codes_and_what_the_archive_recognises() -> None:
    assert is_project_code("2011.0.00229.S") and is_project_code("2019.A.00034.S") and not is_project_code("out")
    assert archive_recognises("2017.1.00886.L") and archive_recognises("2019.A.00034.S")
    assert not archive_recognises("2011.0.00229.S")  # Cycle 0: the ingest's README check never stops at it
    assert not archive_recognises("2017.1.00886.X")  # types S, T, L, V only


def test_uid_maps_read_folders_and_uids(tmp_path: Path) -> None:
    good = tmp_path / "uids.txt"
    good.write_text("# folder uid\nmember_ouss_id   uid://A001/X121/X301  # first\n\n"
                    "group_ouss_id2/member_ouss_id uid___A001_X121_X302\n")
    assert read_uid_map(good) == (("member_ouss_id", "uid___A001_X121_X301"),
                                  ("group_ouss_id2/member_ouss_id", "uid___A001_X121_X302"))
    bad = tmp_path / "bad.txt"
    bad.write_text("member_ouss_id\n")
    with pytest.raises(InputError, match="line 1: expected 'FOLDER UID'"):
        read_uid_map(bad)
    bad.write_text("member_ouss_id uid://A001/X1\n")
    with pytest.raises(InputError, match="line 1: not an ALMA uid"):
        read_uid_map(bad)
    with pytest.raises(InputError, match="cannot read the uid map"):
        read_uid_map(tmp_path / "missing.txt")


def _member(packpath: Path, rel: str) -> Path:
    folder = packpath / rel
    (folder / "script").mkdir(parents=True)
    (folder / "README").write_text("readme\n")
    return folder


def test_uids_come_from_names_ppr_map_or_option_and_disagreement_is_refused(tmp_path: Path) -> None:
    run = current_run(tmp_path / "runs")
    staged = tmp_path / "staged" / CURRENT.project
    stage(run, staged, Mode.COPY)  # placeholders inside; the PPR in script/ names the MOUS
    (unit,), warnings = find_units(staged)
    assert (unit.ous, unit.named_by) == (CURRENT.mous, f"{MEMBER}/script/{CURRENT.mous}.hifa_calimage."
                                                          "pprequest.xml") and warnings == []
    named, _ = name_folders(staged, list_groups(staged))
    assert named["sg_ouss_id/group_ouss_id"].uid == CURRENT.gous  # the GOUS from the PPR's RelativePath
    with pytest.raises(InputError, match="conflicting uids"):
        find_units(staged, DeliveryNaming(mous_uid="uid___A001_X1284_X9999"))
    pack = tmp_path / "2019.1.00001.S"
    _member(pack, MEMBER)
    _member(pack, "sg_ouss_id/group_ouss_id2/member_ouss_id")
    with pytest.raises(UsageError, match="has 2 members; give a --uid-map"):
        find_units(pack, DeliveryNaming(mous_uid="uid___A001_X1_X9"))
    # A bare folder name that two groups share is ambiguous: the map must say which group.
    ambiguous = DeliveryNaming(uid_map=(("member_ouss_id", "uid___A001_X1_X5"),))
    with pytest.raises(UsageError, match="no uid is known for"):
        find_units(pack, ambiguous)
    mapped = DeliveryNaming(uid_map=(("group_ouss_id/member_ouss_id", "uid___A001_X1_X5"),
                                     ("group_ouss_id2/member_ouss_id", "uid___A001_X1_X6")))
    units, _ = find_units(pack, mapped)
    assert [(u.ous, u.named_by) for u in units] == [("uid___A001_X1_X5", "--uid-map"), ("uid___A001_X1_X6", "--uid-map")]


def test_the_members_that_hold_files_are_found_from_their_folders() -> None:
    member = "sg_ouss_id/group_ouss_id/member_ouss_id"
    other = "science_goal.uid___A001_X1_X2/group.uid___A001_X1_X3/member.uid___A001_X1_X4"
    files = [f"{member}/README", f"{member}/qa/a.png", f"{member}/calibration/t.cal/table.dat", f"{other}/log/x.log",
             "sg_ouss_id/group_ouss_id/product/image.fits", "sg_ouss_id/notes.txt", "stray.txt",
             "sg_ouss_id/group_ouss_id/member_ouss_id"]  # a file named like a member folder holds nothing
    assert members_of(files) == {member, other}
    assert members_of([]) == set()
