"""Sanity checks: warnings that let packaging go on, and the ephemeris abort."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import eb, tree_listing
from qa2pack import PackageOptions, package, plan_package
from qa2pack.core.errors import EphemerisConflictError
from qa2pack.planning.readme import DEFAULT_HEADER


def codes(plan) -> list[str]:
    return [f.code for f in plan.findings]


def test_a_complete_eb_gives_no_warnings(build, tmp_path: Path) -> None:
    readme = tmp_path / "README.header.txt"
    readme.write_text("Project code: 2019.1.00001.S\n")
    plan = plan_package(build(eb("SB/X1", "uid___A002_X13_X1") | {"SB/i.fits": "@fits"}), PackageOptions(readme=readme))
    assert plan.findings == ()


def test_missing_caltables_and_qa2_files_are_warnings(build) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1")
    del layout["SB/X1/uid___A002_X13_X1.ms.split.bandpass"]
    del layout["SB/X1/qa2/textfile.txt"]
    plan = plan_package(build(layout | {"SB/i.fits": "@fits"}))
    messages = {f.code: f.message for f in plan.findings}
    assert messages["missing-caltable"] == "EB uid___A002_X13_X1: no calibration table uid___A002_X13_X1.ms.split.bandpass*"
    assert messages["missing-qa2"] == "EB uid___A002_X13_X1: no QA2 file *textfile.txt"


def test_smoothed_bandpass_satisfies_the_bandpass_requirement(build) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1")
    layout["SB/X1/uid___A002_X13_X1.ms.split.bandpass_smooth20ch"] = layout.pop("SB/X1/uid___A002_X13_X1.ms.split.bandpass")
    plan = plan_package(build(layout | {"SB/i.fits": "@fits"}))
    assert "missing-caltable" not in codes(plan)


def test_eb_without_script_log_or_product(build) -> None:
    # An EB folder cleared down to its ASDM (the workspace's clear keeps the ASDM and the script).
    plan = plan_package(build({"SB/X1/uid___A002_X13_X1": "@asdm"}))
    assert {"eb-without-script", "eb-without-log", "no-product", "missing-caltable", "missing-qa2"} <= set(codes(plan))


def test_default_readme_is_a_warning_and_uses_the_template(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X13_X1") | {"SB/i.fits": "@fits"})
    report = package(root, tmp_path / "2013.1.00001.S")
    assert codes(report.plan) == ["default-readme"]
    readme = (tmp_path / "2013.1.00001.S/sg_ouss_id/group_ouss_id/member_ouss_id/README").read_text()
    assert readme.startswith(DEFAULT_HEADER.splitlines()[0])
    assert "Project code:\n" in readme and "PI name:\n" in readme


def test_name_collision_keeps_both_and_warns(build) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1") | eb("SB/X2", "uid___A002_X13_X2")
    layout.update({"SB/X1/scriptForImaging.py": "# one\n", "SB/X2/scriptForImaging.py": "# two\n",
               "SB/scriptForImaging.py": "# SB level\n", "SB/i.fits": "@fits"})
    plan = plan_package(build(layout))
    scripts = {a.target.name: a.source for a in plan.actions if a.target.parts[3] == "script"}
    assert scripts["scriptForImaging.py"] == "SB/scriptForImaging.py"  # the shallowest keeps the name
    assert scripts["uid___A002_X13_X1__scriptForImaging.py"] == "SB/X1/scriptForImaging.py"
    assert scripts["uid___A002_X13_X2__scriptForImaging.py"] == "SB/X2/scriptForImaging.py"
    collisions = [f for f in plan.findings if f.code == "name-collision"]
    assert len(collisions) == 2
    assert collisions[0].paths == ("SB/scriptForImaging.py", "SB/X1/scriptForImaging.py")
    assert "both kept" in collisions[0].message


def test_plan_does_not_depend_on_input_order(build) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1") | eb("SB/X2", "uid___A002_X13_X2") | {"SB/i.fits": "@fits"}
    first = plan_package(build(layout, "a"))
    second = plan_package(build(dict(reversed(list(layout.items()))), "b"))
    assert [a.target for a in first.actions] == [a.target for a in second.actions]
    assert first.findings == second.findings


def test_ephemerides_with_same_name_and_different_content_abort_before_writing(build, tmp_path: Path) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1") | eb("SB/X2", "uid___A002_X13_X2")
    layout.update({"SB/X1/Titan.eph": "ephemeris one\n", "SB/X2/Titan.eph": "ephemeris two\n"})
    root = build(layout)
    before = tree_listing(tmp_path)
    with pytest.raises(EphemerisConflictError) as caught:
        package(root, tmp_path / "P")
    message = str(caught.value)
    assert "SB/X1/Titan.eph" in message and "SB/X2/Titan.eph" in message
    assert tree_listing(tmp_path) == before


def test_identical_ephemerides_are_packaged_once(build) -> None:
    layout = eb("SB/X1", "uid___A002_X13_X1") | eb("SB/X2", "uid___A002_X13_X2")
    layout.update({"SB/X1/Titan.eph": "same\n", "SB/X2/Titan.eph": "same\n",
               "SB/X1/uid___A002_X13_X1.ms.scriptForCalibration.py": "fixplanets(vis='x', field='Titan')\n"})
    plan = plan_package(build(layout))
    ephs = [a for a in plan.actions if a.target.name == "Titan.eph"]
    assert [a.target.parts[3] for a in ephs] == ["calibrated"]
    assert "eph-without-fixplanets" not in codes(plan) and "fixplanets-without-eph" not in codes(plan)


def test_fixplanets_without_ephemeris_and_ephemeris_without_fixplanets(build) -> None:
    with_call = eb("SB/X1", "uid___A002_X13_X1")
    with_call["SB/X1/uid___A002_X13_X1.ms.scriptForCalibration.py"] += "fixplanets(vis=vis, field='Mars')\n"
    assert "fixplanets-without-eph" in codes(plan_package(build(with_call, "a")))
    without_call = eb("SB/X1", "uid___A002_X13_X1") | {"SB/X1/Mars.eph": "eph\n"}
    assert "eph-without-fixplanets" in codes(plan_package(build(without_call, "b")))


def test_names_the_archive_cannot_read_in_a_readme_are_warned_about(build, tmp_path) -> None:
    from factories import eb
    from qa2pack import plan_package

    root = build(eb("SB/X1", "uid___A002_X40_X1") | {"SB/my notes.log": "notes\n", "SB/ok.fits": "@fits"})
    plan = plan_package(root)
    (finding,) = [f for f in plan.findings if f.code == "archive-unreadable-name"]
    assert "'my notes.log'" in finding.message and finding.paths == ("sg_ouss_id/group_ouss_id/member_ouss_id/log/my notes.log",)
