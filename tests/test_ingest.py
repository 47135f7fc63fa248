"""The archive's ingest rules as qa2pack applies them (each found by running the archive's own code)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa2pack.delivery.ingest import (
    archive_reading,
    archive_readme_member,
    has_tree_lines,
    missing_names,
    readme_names,
    tar_name_problem,
    unreadable_name,
)

README = """Atacama Large Millimeter/submillimeter Array (ALMA)

Project code: 2013.1.00229.S

#####

|-- 2013.1.00229.S/
|   |-- sg_ouss_id/
|   |   |-- group_ouss_id/
|   |   |   |-- member_ouss_id/
|   |   |   |   |-- README
|   |   |   |   |-- script/
|   |   |   |   |   |-- scriptForPI.py

6 directories, 2 files
"""
NAMES = ["2013.1.00229.S", "2013.1.00229.S/sg_ouss_id", "2013.1.00229.S/sg_ouss_id/group_ouss_id",
         "2013.1.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id",
         "2013.1.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id/script",
         "2013.1.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id/script/scriptForPI.py",
         "2013.1.00229.S/sg_ouss_id/group_ouss_id/member_ouss_id/README"]


@given(st.lists(st.text("ab/", max_size=8), max_size=12), st.sets(st.text("ab", min_size=1, max_size=3), max_size=6))
def test_a_name_is_found_among_the_components_of_any_tar_member(members: list[str], listed: set[str]) -> None:
    """Components are gathered per folder, not per member: the same set as splitting every member."""
    readme = "|-- 2013.1.00229.S/\n" + "".join(f"|   |-- {name}\n" for name in sorted(listed))
    components = {part for member in members for part in member.split("/")}
    assert missing_names(readme, members) == sorted(set(readme_names(readme)) - components)


def test_the_tree_is_read_bottom_up_to_the_project_line_and_the_header_is_never_reached() -> None:
    assert readme_names(README) == ["scriptForPI.py", "script", "README", "member_ouss_id", "group_ouss_id",
                                    "sg_ouss_id", "2013.1.00229.S"]
    assert missing_names(README, NAMES) == []
    assert missing_names(README, NAMES[:-2]) == ["README", "scriptForPI.py"]


def test_a_cycle0_code_does_not_stop_the_reading_so_the_header_is_read_too() -> None:
    cycle0 = README.replace("2013.1", "2011.0")
    names = readme_names(cycle0)
    assert names[-1] == "AtacamaLargeMillimeter/submillimeterArray(ALMA)"
    assert "Projectcode:2011.0.00229.S" in missing_names(cycle0, [n.replace("2013.1", "2011.0") for n in NAMES])


@pytest.mark.parametrize(("line", "read"), [
    ("|   |   |-- group_ouss_id/", "group_ouss_id"),
    ("|   |-- my log.txt", "mylog.txt"),
    ("|   |-- café.log", "caf.log"),
    ("|   |-- a--b.txt", "ab.txt"),
    ("`-- last`name", "lastname"),
])
def test_each_line_is_stripped_as_the_archive_strips_it(line: str, read: str) -> None:
    assert archive_reading(line) == read


@pytest.mark.parametrize(("name", "unreadable"), [
    ("scriptForPI.py", False), ("uid___A002_X1_X2.ms.split.cal", False), ("my log.txt", True), ("café.log", True),
    ("a--b", True), ("a|b", True), ("tab\there", True), ("a-b_c.d", False),
])
def test_names_the_archive_would_read_as_others(name: str, unreadable: bool) -> None:
    assert unreadable_name(name) is unreadable


def test_the_archive_reads_the_last_member_named_readme() -> None:
    assert archive_readme_member(NAMES) == NAMES[-1]
    assert archive_readme_member([*NAMES, f"{NAMES[4]}/README_notes.txt"]).endswith("README_notes.txt")
    assert archive_readme_member(NAMES[:-1]) is None
    assert has_tree_lines(README) and not has_tree_lines("2013.1.00229.S\n`-- sg_ouss_id\n")


@pytest.mark.parametrize(("name", "problem"), [
    ("2017.1.01419.S_uid___A001_X1284_X1ef2_001_of_001.tar", None),
    ("2017.1.01419.S_uid___A001_X1284_X1ef2_auxiliary.tar", None),
    ("2017.1.01419.S_member_ouss_id_001_of_001.tar", "not an OUS uid"),
    ("2017.1.01419.S_group_ouss_id.member_ouss_id_001_of_001.tar", "not an OUS uid"),
    ("out_uid___A001_X1284_X1ef2_001_of_001.tar", "not named"),
    ("2017.1.01419.S_uid___A001_X1284_X1ef2.tar", "not named"),
])
def test_the_mous_must_be_readable_from_the_tar_name(name: str, problem: str | None) -> None:
    found = tar_name_problem(name)
    assert (found is None) if problem is None else (problem in (found or ""))
