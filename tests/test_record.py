"""Records (qa2pack.core.record) behave as the frozen dataclasses they replace, at a fraction of the start-up."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa2pack.core.record import FrozenRecordError, as_dict, field, fields, record, replace


@record(slots=False)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record
class Sized:
    name: str
    parts: tuple[int, ...] = ()
    note: str | None = field(default=None, compare=False, repr=False)
    total: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.parts))


@record(frozen=False)
class Tally:
    count: int = 0
    seen: list[str] = field(default_factory=list)


def test_init_takes_fields_in_order_with_defaults():
    assert (Point(1).x, Point(1).y, Point(1).tags) == (1, 0, ())
    assert Point(1, 2, ("a",)) == Point(x=1, y=2, tags=("a",))
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, z=3)  # type: ignore[call-arg]


def test_equality_and_hash_follow_the_compared_fields_of_the_same_class():
    assert Point(1, 2) == Point(1, 2) and Point(1, 2) != Point(2, 1)
    assert hash(Point(1, 2)) == hash(Point(1, 2))
    assert len({Point(1, 2), Point(1, 2), Point(1, 3)}) == 2
    assert Sized("a", (1,), note="x") == Sized("a", (1,), note="y")  # note is not compared
    assert Point(1, 2) != (1, 2, ())  # a record is not equal to a tuple of its values

    @record
    class Other:
        x: int
        y: int = 0
        tags: tuple[str, ...] = ()

    assert Point(1) != Other(1)


def test_mutable_records_compare_but_do_not_hash_and_get_fresh_defaults():
    first, second = Tally(), Tally()
    first.seen.append("a")
    first.count += 1
    assert second.seen == [] and first == Tally(1, ["a"])
    with pytest.raises(TypeError):
        hash(first)


def test_frozen_records_refuse_assignment_and_deletion():
    point = Point(1)
    with pytest.raises(FrozenRecordError):
        point.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del point.y  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Sized("a").other = 1  # type: ignore[attr-defined]


def test_slots_leave_no_dict_and_post_init_fills_the_rest():
    sized = Sized("a", (1, 2))
    assert not hasattr(sized, "__dict__") and sized.total == 3
    assert hasattr(Point(1), "__dict__")  # slots=False
    tally = Tally()
    with pytest.raises(AttributeError):
        tally.misspelt = 1  # type: ignore[attr-defined]
    assert repr(sized) == "Sized(name='a', parts=(1, 2))"
    assert repr(Point(1, tags=("t",))) == "Point(x=1, y=0, tags=('t',))"


def test_replace_fields_and_as_dict():
    point = replace(Point(1, 2), y=5)
    assert point == Point(1, 5)
    assert replace(Sized("a", (1,)), parts=(4, 5)).total == 9  # init=False fields are recomputed
    assert [each.name for each in fields(Sized)] == ["name", "parts", "note", "total"]
    assert as_dict(Tally(2, ["x"])) == {"count": 2, "seen": ["x"]}
    with pytest.raises(TypeError):
        replace(Point(1), z=1)


@pytest.mark.parametrize("value", [Point(1, 2, ("a",)), Sized("b", (3,), note="n"), Tally(1, ["s"])])
def test_copies_and_pickles_are_equal(value):
    assert copy.copy(value) == value
    assert copy.deepcopy(value) == value
    again = pickle.loads(pickle.dumps(value))
    assert again == value and type(again) is type(value)
    if isinstance(value, Sized):
        assert again.total == value.total and again.note == "n"


def test_bad_declarations_fail_when_the_class_is_made():
    with pytest.raises(TypeError):

        @record
        class NoDefaultAfterDefault:
            a: int = 0
            b: int

    with pytest.raises(TypeError):

        @record
        class Extended(Point):
            z: int = 0

    with pytest.raises(ValueError):

        @record(frozen=False)
        class SharedList:
            items: list[str] = []


def test_init_signature_is_real_once_looked_up():
    import inspect

    assert str(inspect.signature(Point)) == "(x: 'int', y: 'int' = 0, tags: 'tuple[str, ...]' = ()) -> 'None'"


def test_the_command_line_starts_without_dataclasses_or_inspect():
    code = ("import sys, qa2pack.cli.app, qa2pack.api, qa2pack.delivery.verify;"
            "print(sorted(m for m in ('dataclasses', 'inspect') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout
    assert out.strip() == "[]"


@dataclasses.dataclass(frozen=True)
class PointAsDataclass:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


values = st.tuples(st.integers(), st.integers(), st.lists(st.text(max_size=3), max_size=3).map(tuple))


@given(values, values, st.integers())
def test_records_agree_with_the_dataclasses_they_replace(first, second, new_y):
    """Equality, repr (but for the name), replace and the field order are those of a frozen dataclass."""
    ours, theirs = Point(*first), PointAsDataclass(*first)
    assert (ours == Point(*second)) == (theirs == PointAsDataclass(*second))
    assert hash(ours) == hash(Point(*first))
    assert repr(ours).replace("Point", "", 1) == repr(theirs).replace("PointAsDataclass", "", 1)
    assert as_dict(replace(ours, y=new_y)) == dataclasses.asdict(dataclasses.replace(theirs, y=new_y))
    assert [each.name for each in fields(ours)] == [each.name for each in dataclasses.fields(theirs)]
