"""Reading origpath ahead: a child lists it while the run starts; the scan is the one it would make alone."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from children import reaped, recorded_forks
from factories import eb
from qa2pack import cli
from qa2pack.scan import ahead
from qa2pack.scan import probe as probe_module
from qa2pack.scan.ahead import reading_ahead
from qa2pack.scan.probe import scan_tree

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the read-ahead forks")


def _age(root: Path, seconds: float = 60) -> None:
    """Date every folder below root back, as an analyst's tree is: the child sends only folders it can check."""
    past = time.time() - seconds
    for folder, _, _ in os.walk(root):
        os.utime(folder, (past, past))


@pytest.fixture
def tree(build, tmp_path: Path) -> Path:
    root = build(eb("SB/X1", "uid___A002_X50_X1") | eb("SB/X2", "uid___A002_X50_X2")
                 | {"SB/image.fits": "@fits", "SB/scriptForImaging.py": "# imaging\n", "extra/notes.txt": "notes\n"})
    os.symlink("X1", root / "SB" / "X1_again")  # a folder link: followed or reported
    os.symlink("../extra", root / "SB" / "extra_link")
    os.symlink("missing.log", root / "SB" / "dangling.log")
    os.mkfifo(root / "SB" / "pipe")
    (root / "SB" / "empty.txt").touch()
    if sys.platform.startswith("linux"):  # a name that is no UTF-8 goes through the pipe unchanged
        (root / os.fsdecode(b"SB/odd\xff.txt")).write_text("odd\n")
    _age(root)
    return root


def _opened(monkeypatch) -> list[str]:  # type: ignore[no-untyped-def]
    """Count the folders the scan lists itself (in this process)."""
    opened: list[str] = []
    real = probe_module.open_folder

    def counting(path: str) -> int:
        opened.append(path)
        return real(path)

    monkeypatch.setattr(probe_module, "open_folder", counting)
    return opened


@pytest.mark.parametrize("follow_links", [False, True])
def test_a_scan_with_the_listings_read_ahead_is_the_scan_made_alone(tree: Path, follow_links: bool,
                                                                   monkeypatch) -> None:
    alone = scan_tree(tree, follow_links=follow_links)
    opened = _opened(monkeypatch)
    with reading_ahead(tree):
        time.sleep(0.3)  # the child lists the whole tree meanwhile
        early = scan_tree(tree, follow_links=follow_links)
    assert early == alone
    assert {note.rel for note in early.links} >= {"SB/pipe", "SB/dangling.log"}
    # Every folder came from the child but those reached through a followed link (it follows none).
    through_links = [path for path in opened if "/X1_again" in path or "/extra_link" in path]
    assert opened == through_links and bool(through_links) == follow_links


def test_a_folder_changed_after_the_child_listed_it_is_listed_again(tree: Path, monkeypatch) -> None:
    opened = _opened(monkeypatch)
    with reading_ahead(tree):
        time.sleep(0.3)
        (tree / "SB" / "scriptForPI.py").write_text("# added after the listing\n")
        (tree / "SB" / "scriptForImaging.py").unlink()
        early = scan_tree(tree)
    assert opened == [str(tree / "SB")]  # that folder alone
    assert early == scan_tree(tree)


def test_a_folder_changed_just_before_the_listing_is_not_sent(tree: Path, monkeypatch) -> None:
    (tree / "SB" / "X1" / "late.txt").write_text("written as the run starts\n")
    opened = _opened(monkeypatch)
    with reading_ahead(tree):
        time.sleep(0.3)
        early = scan_tree(tree)
    assert opened == [str(tree / "SB" / "X1")]
    assert early == scan_tree(tree)


def test_listings_are_only_for_a_prompt_scan_of_their_own_origpath(tree: Path, tmp_path: Path, monkeypatch) -> None:
    with reading_ahead(tree):
        assert ahead.take(str(tmp_path)) == {}  # another folder: nothing, and the listings are gone
        assert ahead.take(os.path.realpath(tree)) == {}
    with reading_ahead(tree):
        time.sleep(0.3)
        assert str(tree / "SB" / "X1") in ahead.take(os.path.realpath(tree))
    monkeypatch.setattr(ahead, "MAX_AGE_S", 0.0)
    with reading_ahead(tree):
        time.sleep(0.1)  # the scan began after waiting (for another run's lock): it lists anew
        assert ahead.take(os.path.realpath(tree)) == {}


def test_a_listing_cut_off_by_the_end_of_the_child_is_left_out() -> None:
    records = [b"\0".join([b"/o/a", b"1:2:3", b"1", b"f", b"10", b"", b"sub", b"d"]),
               b"\0".join([b"/o/a/sub", b"4:2:3", b"0", b""])]
    data = b"".join(b"%d\n" % len(record) + record for record in records)
    assert ahead.parse(data) == {"/o/a": ["/o/a", "1:2:3", "1", "f", "10", "", "sub", "d"],
                                 "/o/a/sub": ["/o/a/sub", "4:2:3", "0", ""]}
    for cut in (len(data) - 1, len(data) - len(records[1]) - 1):
        assert list(ahead.parse(data[:cut])) == ["/o/a"]
    assert ahead.parse(b"") == {}


@pytest.mark.parametrize(("argv", "code"), [
    (["inspect", "{tree}", "--no-such-option"], 2),  # the parser fails after the child started
    (["inspect", "{tree}", "--json"], 0),
    (["package", "{tree}", "{tmp}/P", "--mode", "hard", "-q"], 0),
])
def test_the_command_line_leaves_no_child_behind(tree: Path, tmp_path: Path, argv: list[str], code: int,
                                                 monkeypatch, capsys) -> None:
    pids = recorded_forks(monkeypatch, ahead)
    monkeypatch.setattr(sys, "argv", ["qa2pack", *(a.format(tree=tree, tmp=tmp_path) for a in argv)])
    monkeypatch.setattr(cli, "exit_without_teardown", sys.exit)  # in-process: the real one ends pytest too
    with pytest.raises(SystemExit) as exited:
        cli.run_and_exit()
    assert exited.value.code == code
    assert len(pids) == 1 and reaped(pids[0])
    assert ahead._slot.child is None


def test_a_move_run_and_other_commands_read_nothing_ahead(tree: Path, tmp_path: Path) -> None:
    origin = str(tree)
    assert cli._origpath_in(["package", origin, "P"]) == origin
    assert cli._origpath_in(["inspect", origin]) == origin
    for argv in (["package", origin, "P", "--mode", "move"], ["package", origin, "P", "--mode=MOVE"],
                 ["package", "--mode", "hard", origin, "P"], ["verify", origin], ["package"], []):
        assert cli._origpath_in(argv) is None


def test_a_move_run_through_main_forks_no_child(build, tree: Path, tmp_path: Path, monkeypatch) -> None:
    movable = build(eb("SB/X1", "uid___A002_X51_X1"), "movable")
    pids = recorded_forks(monkeypatch, ahead)
    assert cli.main(["package", str(movable), str(tmp_path / "P"), "--mode", "move", "-q"]) == 0
    assert pids == []  # a move run changes origpath: its own listing is the one that counts
    assert cli.main(["inspect", str(tree), "--json"]) == 0
    assert len(pids) == 1 and reaped(pids[0])
