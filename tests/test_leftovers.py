"""What a run leaves is kept to the end of the process only when the command line ends it right after."""

from __future__ import annotations

import sys
import weakref
from pathlib import Path
from typing import NoReturn

import pytest

from qa2pack import cli
from qa2pack.core import leftovers
from qa2pack.core.leftovers import kept_to_the_end, leave
from qa2pack.delivery.verify import verify_package
from qa2pack.formats.manifest import manifest_path, read_manifest


class Table(dict):  # type: ignore[type-arg]
    """A dict that a weak reference can follow."""


def test_a_library_call_frees_what_it_leaves() -> None:
    table = Table(a=1)
    gone = weakref.ref(table)
    leave(table)
    del table
    assert gone() is None


def test_what_is_left_is_kept_while_asked_and_no_longer() -> None:
    first, second = Table(a=1), Table(b=2)
    second_gone = weakref.ref(second)
    with kept_to_the_end() as kept:
        leave(first)
    leave(second)
    del second
    assert kept == [(first,)] and second_gone() is None and leftovers._kept is None


def test_only_the_last_hand_overs_are_kept() -> None:
    """A command that runs many verifies in one process keeps what the last ones left, not all."""
    tables = [Table(n=n) for n in range(leftovers.KEPT_AT_MOST + 2)]
    first_gone = weakref.ref(tables[0])
    with kept_to_the_end() as kept:
        for table in tables:
            leave(table)
    del tables
    assert first_gone() is None and len(kept) == leftovers.KEPT_AT_MOST and kept[-1][0]["n"] == leftovers.KEPT_AT_MOST + 1


def test_a_verify_leaves_the_manifest_and_the_hashes(copy_package: Path) -> None:
    with kept_to_the_end() as kept:
        assert verify_package(copy_package).ok
    left = [each for objects in kept for each in objects]
    listed = set(read_manifest(manifest_path(copy_package)).entries)
    hashes = [each for each in left if isinstance(each, dict) and len(each) == len(listed) and set(each) == listed]
    assert hashes, "the verify left no table of the manifest's files"


def test_the_command_line_holds_what_the_run_left_until_the_process_ends(copy_package: Path, monkeypatch,
                                                                        capsys) -> None:
    held: list[list[object]] = []

    def exit_holding(code: int) -> NoReturn:
        held.append(sys._getframe(1).f_locals["_left"])  # what run_and_exit still holds as it ends the process
        raise SystemExit(code)

    monkeypatch.setattr(sys, "argv", ["qa2pack", "verify", str(copy_package), "-q"])
    monkeypatch.setattr(cli, "exit_without_teardown", exit_holding)
    with pytest.raises(SystemExit) as exited:
        cli.run_and_exit()
    capsys.readouterr()
    assert exited.value.code == 0 and held and held[0], "the run left nothing to the end of the process"
    assert leftovers._kept is None
