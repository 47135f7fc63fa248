"""Pure naming rules: uids, natural order, level folders (with property tests)."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa2pack.core.errors import UsageError
from qa2pack.core.naming import (
    archive_uid,
    eb_uid_of,
    leading_uid,
    matches,
    natural_key,
    natural_sorted,
    normalize_uid,
)
from qa2pack.delivery.layout import MEMBER_LEVEL, part_name

HEX = st.text("0123456789abcdef", min_size=1, max_size=7)


@settings(derandomize=True)
@given(archive=st.sampled_from(["A001", "A002"]), a=HEX, b=HEX)
def test_uid_forms_round_trip(archive: str, a: str, b: str) -> None:
    uid = f"uid://{archive}/X{a}/X{b}"
    file_form = normalize_uid(uid)
    assert file_form == f"uid___{archive}_X{a}_X{b}"
    assert normalize_uid(file_form) == file_form
    assert archive_uid(file_form) == uid


@pytest.mark.parametrize("bad", ["uid://A002/X1", "A002_X1_X2", "uid___A002_X1", ""])
def test_bad_uids_are_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="not an ALMA uid"):
        normalize_uid(bad)


@pytest.mark.parametrize(("name", "uid"), [
    ("uid___A002_X3c9295_X8c.ms.split.cal", "uid___A002_X3c9295_X8c"),
    ("uid___A002_X3c9295_X8c__casapy.log", "uid___A002_X3c9295_X8c"),
    ("uid___A002_Xc7111c_X3979_flagtemplate.txt", "uid___A002_Xc7111c_X3979"),
    ("calibrated.ms", None),
    ("X8c.checklist.txt", None),
])
def test_eb_uid_of_names(name: str, uid: str | None) -> None:
    assert eb_uid_of(name) == uid


def test_eb_uid_of_a_non_uid_asdm_name() -> None:
    sdm = "16A-459_TEST_1hr_000.57633.66130137732.scan7.cut1"
    assert eb_uid_of(f"{sdm}.ms.split", [sdm]) == sdm
    assert eb_uid_of("other.ms", [sdm]) is None
    assert leading_uid("uid___A002_X1_X2extra") == "uid___A002_X1_X2extra"


def test_level_names_and_highest_by_number() -> None:
    names = [MEMBER_LEVEL.name(n) for n in range(1, 11)]
    assert names[:3] == ["member_ouss_id", "member_ouss_id2", "member_ouss_id3"]
    assert MEMBER_LEVEL.number("member_ouss_id10") == 10
    assert MEMBER_LEVEL.number("member_ouss_id01") is None
    assert MEMBER_LEVEL.highest(names) == "member_ouss_id10"  # not id9 (lexical)
    assert MEMBER_LEVEL.next_number(names) == 11
    assert MEMBER_LEVEL.next_number([]) == 1


@settings(derandomize=True)
@given(st.lists(st.integers(0, 500), min_size=1, max_size=30))
def test_natural_order_sorts_numbers_as_numbers(numbers: list[int]) -> None:
    names = [f"SB{n}" for n in numbers]
    assert [int(n[2:]) for n in natural_sorted(names)] == sorted(numbers)


def _tagged_natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """The natural order spelled out: runs of digits as numbers before text, empty runs dropped."""
    runs = re.findall(r"\d+|\D+", text)
    return tuple((0, int(run)) if run[0].isdigit() else (1, run) for run in runs)


@settings(derandomize=True, max_examples=300)
@given(st.lists(st.text(alphabet="ab.1029_", max_size=8), min_size=2, max_size=12))
def test_natural_order_is_that_of_numbers_tagged_before_text(names: list[str]) -> None:
    assert natural_sorted(names) == sorted(names, key=lambda n: (_tagged_natural_key(n), n))
    for first, second in zip(names, names[1:]):  # the same order, ties included (0 and 00)
        assert (natural_key(first) < natural_key(second)) == (_tagged_natural_key(first) < _tagged_natural_key(second))
        assert (natural_key(first) == natural_key(second)) == (_tagged_natural_key(first) == _tagged_natural_key(second))


def test_tar_part_names() -> None:
    assert part_name("2017.1.01419.S", "uid___A001_X1284_X1ef2", 1, 1) == "2017.1.01419.S_uid___A001_X1284_X1ef2_001_of_001.tar"


GLOB_CHARS = st.sampled_from(["a", "b", ".", "*", "?", "[ab]", "[!a]", "_", "(", "|", "\\", "+"])


@given(st.text(alphabet="ab._(|+\\X", max_size=8), st.lists(st.lists(GLOB_CHARS, max_size=5).map("".join), max_size=4))
def test_matching_several_globs_at_once_is_matching_each(name: str, patterns: list[str]) -> None:
    assert matches(name, patterns) == any(fnmatchcase(name, p) for p in patterns)
