"""Symbolic links in origpath: never a link in the package, nothing packaged twice."""

from __future__ import annotations

import os
from pathlib import Path

from factories import eb
from qa2pack import Mode, PackageOptions, package, plan_package

MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"


def reasons(plan) -> dict[str, str]:
    return {s.source: s.reason for s in plan.skipped}


def test_links_are_packaged_as_real_files_once_and_others_reported(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X40_X1") | {"notes/scriptForImaging.py": "# the real one\n",
                                                      "SB/image.fits": "@fits"})
    outside = tmp_path / "elsewhere.py"
    outside.write_text("# outside origpath\n")
    os.symlink("../notes/scriptForImaging.py", root / "SB" / "scriptForImaging.py")  # a file link inside
    os.symlink("image.fits", root / "SB" / "image_link.fits")  # a link to a file that is packaged anyway
    os.symlink(outside, root / "SB" / "outside.py")
    os.symlink("missing.log", root / "SB" / "dangling.log")
    os.symlink("X1", root / "SB" / "X1_again")  # a folder link
    report = package(root, tmp_path / "P", PackageOptions(mode=Mode.COPY))
    member = tmp_path / "P" / MEMBER
    script = member / "script" / "scriptForImaging.py"
    assert script.is_file() and not script.is_symlink() and script.read_text() == "# the real one\n"
    assert not (member / "product" / "image_link.fits").exists()  # the same file, packaged once
    why = reasons(report.plan)
    assert why["SB/image_link.fits"] == "link to SB/image.fits, which is packaged already"
    assert why["SB/outside.py"].endswith("points outside origpath")
    assert why["SB/dangling.log"].endswith("points nowhere")
    assert why["SB/X1_again"].endswith("link to a folder (use --follow-links)")
    assert not [p for p in (tmp_path / "P").rglob("*") if p.is_symlink()]


def test_follow_links_follows_folders_but_packages_nothing_twice(build) -> None:
    root = build(eb("SB/X1", "uid___A002_X41_X1") | {"SB/image.fits": "@fits"})
    (root / "extra").mkdir()
    (root / "extra" / "scriptForExtra.py").write_text("# reached only through a link\n")
    os.symlink("../extra", root / "SB" / "linked_extra")
    os.symlink("X1", root / "SB" / "X1_again")
    plan = plan_package(root, PackageOptions(follow_links=True))
    sources = {a.source for a in plan.actions if a.source}
    assert "extra/scriptForExtra.py" in sources  # extra/ is packaged from its real place ...
    assert reasons(plan)["SB/linked_extra/scriptForExtra.py"] == \
        "link to extra/scriptForExtra.py, which is packaged already"  # ... not again through the link
    # ... and the X1 folder reached twice is packaged once, from its real place.
    assert sum(1 for a in plan.actions if a.target.name == "uid___A002_X41_X1.ms.split") == 1
    assert all(not s.startswith("SB/X1_again/") for s in sources)
    why = reasons(plan)
    for name in ("uid___A002_X41_X1.ms.split", "uid___A002_X41_X1.ms.split.bandpass"):
        assert why[f"SB/X1_again/{name}"] == f"link to SB/X1/{name}, which is packaged already"
    assert plan.members[0].eb_folders == ("SB/X1",)  # a folder reached twice is one EB folder
