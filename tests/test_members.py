"""Members and their contents for the three layouts analysts use (factories FIG1-FIG3) and edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import FIG1, FIG2, FIG3, eb
from qa2pack import PackageOptions, plan_package
from qa2pack.core.errors import NoEBProductsError
from qa2pack.core.model import Folder, Kind, Unit
from qa2pack.core.naming import natural_sorted
from qa2pack.scan.members import find_members
from qa2pack.scan.probe import scan_tree


def targets(plan, member: int = 0) -> set[str]:
    folder = plan.members[member].folder
    return {a.target.relative_to(folder).as_posix() for a in plan.members[member].actions}


def test_figure1_one_member_with_eb_folders_and_combined_products(build) -> None:
    plan = plan_package(build(FIG1))
    assert [m.folder.as_posix() for m in plan.members] == ["sg_ouss_id/group_ouss_id/member_ouss_id"]
    got = targets(plan)
    assert {"calibrated/uid___A002_X1111_Xa1.ms.split.cal", "calibrated/uid___A002_X1111_Xa2.ms.split.cal",
            "raw/uid___A002_X1111_Xa1.ms.split", "raw/uid___A002_X1111_Xa2.ms.split",
            "calibration/uid___A002_X1111_Xa1.calibration/uid___A002_X1111_Xa1.ms.split.bandpass",
            "calibration/uid___A002_X1111_Xa2.calibration/uid___A002_X1111_Xa2.ms.split.bandpass",
            "script/scriptForImaging.py", "log/imaging.log", "product/target.cont.fits",
            "product/target.cont.mask", "qa/DataA1.checklist.txt", "qa/DataA2.checklist.txt"} <= got
    assert plan.members[0].eb_uids == ("uid___A002_X1111_Xa1", "uid___A002_X1111_Xa2")
    assert any(s.source == "MemberA/Combined/concat.ms" for s in plan.skipped)


def test_figure2_two_members_each_with_its_own_products(build) -> None:
    plan = plan_package(build(FIG2))
    assert [m.folder.name for m in plan.members] == ["member_ouss_id", "member_ouss_id2"]
    a, b = targets(plan, 0), targets(plan, 1)
    assert plan.members[0].eb_uids == ("uid___A002_X2222_Xa1",)
    assert plan.members[1].eb_uids == ("uid___A002_X2222_Xb1", "uid___A002_X2222_Xb2")
    assert "product/a.cont.fits" in a and "product/b.cont.fits" in b
    assert "product/b.cont.fits" not in a
    assert "script/scriptForImaging.py" in a and "script/scriptForImaging.py" in b
    assert {t for t in b if t.startswith("raw/")} == {"raw/uid___A002_X2222_Xb1.ms.split",
                                                      "raw/uid___A002_X2222_Xb2.ms.split"}


def test_figure3_origpath_is_the_eb_folder(build) -> None:
    plan = plan_package(build(FIG3))
    (member,) = plan.members
    got = targets(plan)
    assert member.eb_folders == (".",)
    assert "qa/orig.checklist.txt" in got  # the checklist gets the EB folder's name in front
    assert "qa/uid___A002_X3333_X33__qa2_part1.png" in got
    assert "log/uid___A002_X3333_X33__casapy-_X33.log" in got
    assert "product/target.fits" in got


def test_members_are_in_natural_order_and_numbered_past_nine(build) -> None:
    layout = {}
    for n in range(1, 12):
        layout.update(eb(f"SB{n}/X{n}", f"uid___A002_X9_X{n}"))
    plan = plan_package(build(layout))
    assert [m.source for m in plan.members] == [f"SB{n}" for n in range(1, 12)]
    assert [m.folder.name for m in plan.members] == ["member_ouss_id"] + [f"member_ouss_id{n}" for n in range(2, 12)]


def test_all_eb_folders_as_direct_children_are_one_member(build) -> None:
    plan = plan_package(build(eb("X1", "uid___A002_X5_X1") | eb("X2", "uid___A002_X5_X2")))
    assert len(plan.members) == 1 and len(plan.members[0].eb_uids) == 2


def test_an_eb_folder_child_next_to_an_sb_folder_makes_two_members(build) -> None:
    plan = plan_package(build(eb("X1", "uid___A002_X5_X1") | eb("SB2/X2", "uid___A002_X5_X2")))
    assert [m.source for m in plan.members] == ["SB2", "X1"]


def test_files_outside_every_member_are_reported(build) -> None:
    layout = FIG2 | {"notes.txt": "group notes\n", "README.header.txt": "header\n"}
    plan = plan_package(build(layout))
    outside = {s.source for s in plan.skipped if "outside every member" in s.reason}
    assert outside == {"notes.txt", "README.header.txt"}


def test_calibrated_ms_without_eb_uid_is_a_combined_product(build) -> None:
    root = build(eb("SB/X1", "uid___A002_X6_X1") | {"SB/calibrated.ms": "@ms"})
    members = find_members(scan_tree(root).tree)
    assert [eb.rel for eb in members[0].eb_folders] == ["SB/X1"]


def test_no_eb_products_is_an_error(build) -> None:
    root = build({"a/calibrated.ms": "@ms", "a/notes.txt": "x"})
    with pytest.raises(NoEBProductsError, match="no ASDM products"):
        plan_package(root)


def test_find_members_on_plain_folders_without_disk() -> None:
    def ms(name: str, rel: str) -> Unit:
        return Unit(name, rel, Kind.MS, (("table.dat", 1),))

    x1 = Folder("X1", "SB1/X1", units=(ms("uid___A002_X1_X1.ms", "SB1/X1/uid___A002_X1_X1.ms"),))
    x2 = Folder("X2", "SB10/X2", units=(ms("uid___A002_X1_X2.ms", "SB10/X2/uid___A002_X1_X2.ms"),))
    tree = Folder("p", "", folders=(Folder("SB10", "SB10", folders=(x2,)), Folder("SB1", "SB1", folders=(x1,))))
    assert [m.name for m in find_members(tree)] == ["SB1", "SB10"]
    assert natural_sorted(["SB10", "SB2", "SB1"]) == ["SB1", "SB2", "SB10"]


def test_names_with_spaces_and_non_ascii_are_packaged(build, tmp_path: Path) -> None:
    from qa2pack import package

    layout = eb("Réduction SB/X 1", "uid___A002_X7_X1") | {"Réduction SB/scriptForImaging ñ.py": "# ñ\n",
                                                            "Réduction SB/image café.fits": "@fits"}
    root = build(layout)
    report = package(root, tmp_path / "out" / "2019.1.00001.S", PackageOptions())
    member = tmp_path / "out" / "2019.1.00001.S" / report.plan.members[0].folder
    assert (member / "script" / "scriptForImaging ñ.py").exists()
    assert (member / "product" / "image café.fits").exists()
    assert (member / "qa" / "X 1.checklist.txt").exists()
