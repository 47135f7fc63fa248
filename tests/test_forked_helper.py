"""A forked helper scans, links and hashes part of a run's files; what it leaves, the run does on its ordinary path."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from itertools import chain
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from children import ended_within
from factories import SB3, damage_copy_package, project229_setup3, refuse_first_link, tree_listing
from qa2pack import Mode, PackageOptions, package
from qa2pack.core import forked as forked_module
from qa2pack.core.errors import ExecutionError, InputError
from qa2pack.core.forked import LinkHelper, LinkJob, share
from qa2pack.delivery.layout import MARKER
from qa2pack.delivery.verify import verify_package
from qa2pack.formats import manifest as manifest_module
from qa2pack.formats.manifest import hash_files, hash_files_steady, read_manifest
from qa2pack.run import execute as execute_module
from qa2pack.run.execute import EmptyInodes
from qa2pack.scan import probe as probe_module
from qa2pack.scan.probe import scan_tree


def _folder(path: Path, names: list[str]) -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_bytes(name.encode())
    return path


@given(st.lists(st.integers(1, 20_000), max_size=40))
def test_the_helper_gets_about_half_of_the_links(sizes: list[int]) -> None:
    helper = share(sizes)
    assert helper == sorted(set(helper)) and all(0 <= index < len(sizes) for index in helper)
    theirs = sum(sizes[index] for index in helper)
    assert abs((sum(sizes) - theirs) - theirs) <= max(sizes, default=0)


def test_a_helper_links_its_jobs_and_says_which_it_finished(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", [f"f{n}" for n in range(700)])
    empty = tmp_path / "empty"
    empty.touch()
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    helper = LinkHelper([LinkJob(str(src), "", str(one), [f"f{n}" for n in range(700)]),
                         LinkJob("", str(empty), str(two), ["a", "b"])])
    assert sorted(report.job for report in helper.poll() + helper.wait()) == [0, 1] and helper.stopped is None
    assert helper.left() == []
    assert all((one / f"f{n}").stat().st_ino == (src / f"f{n}").stat().st_ino for n in range(700))
    assert empty.stat().st_nlink == 3 and sorted(p.name for p in two.iterdir()) == ["a", "b"]


def test_a_helper_stops_at_its_first_failure_and_says_how_far_it_got(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", ["a", "b", "c", "e"])
    dst = tmp_path / "dst"
    dst.mkdir()
    helper = LinkHelper([LinkJob(str(src), "", str(dst), ["a"]), LinkJob(str(src), "", str(dst), ["b", "c", "d", "e"]),
                         LinkJob(str(src), "", str(tmp_path / "missing"), ["e"])])
    helper.wait()
    assert helper.finished == [0] and helper.stopped is not None and helper.stopped[:3] == (1, 2, False)
    assert helper.left() == [(1, 2), (2, 0)]
    assert sorted(p.name for p in dst.iterdir()) == ["a", "b", "c"]


def test_a_helper_that_is_killed_is_an_error_not_a_success(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.touch()
    dst = tmp_path / "dst"
    dst.mkdir()
    helper = LinkHelper([LinkJob("", str(empty), str(dst), [f"f{n}" for n in range(30_000)])])
    os.kill(helper.pid, signal.SIGKILL)
    helper.wait()
    assert "ended unexpectedly" in helper.lost and helper.left() == [(0, 0)]


def test_a_helper_stops_by_itself_soon_after_its_run_is_killed(tmp_path: Path) -> None:
    (tmp_path / "empty").touch()
    dst = tmp_path / "dst"
    dst.mkdir()
    run = ("import os, sys; from qa2pack.core.forked import LinkHelper, LinkJob; "  # one job: no report to fail on
           "helper = LinkHelper([LinkJob('', sys.argv[1], sys.argv[2], [f'f{n}' for n in range(60000)])]); "
           "print(helper.pid, flush=True); os.kill(os.getpid(), 9)")
    process = subprocess.run([sys.executable, "-c", run, str(tmp_path / "empty"), str(dst)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    assert process.returncode == -signal.SIGKILL
    assert ended_within(int(process.stdout), 10)
    assert len(os.listdir(dst)) < 60_000  # it stopped: it did not finish the run's work alone


@pytest.fixture
def helped(monkeypatch):  # type: ignore[no-untyped-def]
    """Make every run's links with the helper, however few (the demo trees are small)."""
    started: list[list[LinkJob]] = []

    class Counted(LinkHelper):
        def __init__(self, jobs) -> None:  # type: ignore[no-untyped-def]
            started.append(list(jobs))
            super().__init__(jobs)

    monkeypatch.setattr(execute_module, "HELPER_FILES", 1)
    monkeypatch.setattr(execute_module, "LinkHelper", Counted)
    return started


@pytest.mark.parametrize("mode", [Mode.HARD, Mode.FAKE])
def test_a_package_linked_with_the_helper_is_the_package_linked_without(build, tmp_path: Path, helped, mode,
                                                                        monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    reference = tmp_path / "ref" / "2011.0.00229.S"
    with monkeypatch.context() as without:
        without.setattr(execute_module, "HELPER_FILES", 10**9)
        package(sb3, reference, PackageOptions(mode=mode))
    assert not helped
    if mode is Mode.FAKE:  # small shared inodes: the helper's share spans several
        EmptyInodes.__init__.__defaults__ = (7,)  # type: ignore[attr-defined]
    try:
        packpath = tmp_path / "2011.0.00229.S"
        package(sb3, packpath, PackageOptions(mode=mode))
    finally:
        EmptyInodes.__init__.__defaults__ = (30_000,)  # type: ignore[attr-defined]
    assert helped and sum(len(job.names) for job in helped[0]) > 5
    assert tree_listing(packpath) == tree_listing(reference)
    assert read_manifest(packpath.parent / "2011.0.00229.S.manifest.tsv").entries == \
        read_manifest(reference.parent / "2011.0.00229.S.manifest.tsv").entries
    linked = [(Path(job.source, name), Path(job.target, name)) for job in helped[0] for name in job.names]
    assert all(str(target).startswith(f"{packpath}/") for _, target in linked)
    if mode is Mode.HARD:
        assert all(target.stat().st_ino == source.stat().st_ino for source, target in linked)
    else:
        assert all(target.stat().st_size == 0 and target.stat().st_nlink <= 8 for _, target in linked)
        assert not list(packpath.glob(".qa2pack-empty-*"))
        # links to one inode queue for its lock: the helper's come from empty files of its own
        helpers = {target for _, target in linked}
        theirs = {target.stat().st_ino for target in helpers}
        ours = {p.stat().st_ino for p in packpath.rglob("*")
                if p.is_file() and p not in helpers and p.stat().st_size == 0 and p.stat().st_nlink > 1}
        assert theirs and ours and theirs.isdisjoint(ours)


def test_the_run_makes_what_the_helper_left_after_a_full_inode(build, tmp_path: Path, helped, monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    refuse_first_link(monkeypatch)  # in the helper too: it stops at its first link
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.FAKE))
    monkeypatch.undo()
    assert helped
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.FAKE))
    assert tree_listing(packpath) == tree_listing(reference)
    assert not list(packpath.glob(".qa2pack-empty-*"))


def test_a_source_gone_from_the_helpers_share_stops_the_run_marked(build, tmp_path: Path, helped,
                                                                   monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    gone: list[Path] = []

    class Vanishing(execute_module.LinkHelper):  # type: ignore[misc,name-defined]
        def __init__(self, jobs) -> None:  # type: ignore[no-untyped-def]
            job = max(jobs, key=lambda job: len(job.names))
            gone.append(Path(job.source, job.names[-1]))
            gone[0].rename(gone[0].with_name(gone[0].name + ".away"))
            super().__init__(jobs)

    monkeypatch.setattr(execute_module, "LinkHelper", Vanishing)
    packpath = tmp_path / "2011.0.00229.S"
    with pytest.raises(ExecutionError, match="No such file or directory") as caught:
        package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    assert str(gone[0]) in str(caught.value)
    assert (packpath / MARKER).is_file()


# -- hashes ----------------------------------------------------------------------------------

def _files(root: Path, count: int) -> list[tuple[str, str]]:
    root.mkdir()
    pairs = []
    for n in range(count):
        path = root / f"f{n:04d}"
        path.write_bytes(os.urandom(n % 700) * (1 + n % 3))
        pairs.append((path.name, str(path)))
    return pairs


def test_files_hashed_with_the_helper_have_the_hashes_and_progress_of_one_thread(tmp_path: Path, monkeypatch) -> None:
    pairs = _files(tmp_path / "data", 300)
    expected = {key: (hashlib.md5(Path(path).read_bytes()).hexdigest(), Path(path).stat().st_size)  # noqa: S324
                for key, path in pairs}
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    forked: list[int] = []
    real_fork = os.fork
    monkeypatch.setattr(os, "fork", lambda: forked.append(1) or real_fork())
    told: list[tuple[int, int]] = []
    sizes = {key: size for key, (_, size) in expected.items()}
    assert hash_files(pairs, advance=lambda files, nbytes: told.append((files, nbytes)), sizes=sizes) == \
        {key: md5 for key, (md5, _) in expected.items()}
    assert forked and sum(files for files, _ in told) == 300 and sum(n for _, n in told) == sum(sizes.values())
    assert hash_files_steady(pairs) == expected


def test_a_file_the_helper_cannot_read_fails_as_it_would_without_it(tmp_path: Path, monkeypatch) -> None:
    pairs = _files(tmp_path / "data", 300)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    real = manifest_module.hash_job

    def vanishing(hash_one, chunk, run):  # type: ignore[no-untyped-def]
        os.unlink(chunk[-1][1])  # in the helper, just before it reads its run of files
        return real(hash_one, chunk, run)

    monkeypatch.setattr(manifest_module, "hash_job", vanishing)

    def until_one_vanished() -> None:  # so that the helper is the first to come to that file
        deadline = time.monotonic() + 30
        while all(os.path.exists(path) for _, path in pairs) and time.monotonic() < deadline:
            time.sleep(0.01)

    with pytest.raises(FileNotFoundError) as caught:
        hash_files(pairs, meanwhile=until_one_vanished)
    assert caught.value.filename in {path for _, path in pairs} and not Path(caught.value.filename).exists()


@pytest.mark.parametrize("helper_from", [2, 10**9])
def test_hashing_can_be_narrowed_by_what_runs_meanwhile(tmp_path: Path, monkeypatch, helper_from: int) -> None:
    """The run reads the package while the helper starts hashing; only the files it then names are hashed."""
    pairs = _files(tmp_path / "data", 300)
    expected = hash_files(pairs, workers=1)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", helper_from)
    present = {key for n, (key, _) in enumerate(pairs) if n % 7}
    for key, path in pairs:
        if key not in present:
            os.unlink(path)  # listed, but gone: the helper stops there, and the run does not read it
    told: list[int] = []
    hashed = hash_files(pairs, advance=lambda files, nbytes: told.append(files), meanwhile=lambda: present)
    assert hashed == {key: expected[key] for key in present} and sum(told) == len(present)


def test_a_package_verified_with_the_helper_reports_what_it_would_without(copy_package: Path, monkeypatch) -> None:
    damage_copy_package(copy_package)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 10**9)
    alone = verify_package(copy_package)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    helped = verify_package(copy_package)
    assert not alone.ok and helped.problems == alone.problems and helped.notes == alone.notes
    assert helped.checksums == alone.checksums == alone.files - 1  # all but the extra file


def test_the_run_the_helper_is_on_when_the_two_meet_is_not_hashed_twice(tmp_path: Path, monkeypatch) -> None:
    """This process hashes from the last run down; the one run left is the helper's, and it waits for it."""
    pairs = _files(tmp_path / "data", 300)
    expected = hash_files(pairs, workers=1)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    run, real = os.getpid(), manifest_module.md5_and_size
    hashed_here: list[str] = []

    def slow_in_the_helper(path: str) -> tuple[str, int]:
        if os.getpid() != run:
            time.sleep(0.02)  # the helper is still on its first run long after this process has hashed the others
        else:
            hashed_here.append(path)
        return real(path)

    monkeypatch.setattr(manifest_module, "md5_and_size", slow_in_the_helper)
    assert hash_files(pairs) == expected
    first, *rest = manifest_module.hash_runs(pairs, 2)
    assert rest and not {path for _, path in first} & set(hashed_here)
    assert {path for _, path in chain.from_iterable(rest)} <= set(hashed_here)


def test_hashes_are_complete_even_if_the_helper_dies(tmp_path: Path, monkeypatch) -> None:
    pairs = _files(tmp_path / "data", 300)
    monkeypatch.setattr(manifest_module, "HELPER_FILES", 2)
    expected = hash_files(pairs, workers=1)

    def dying(hash_one, chunk, run):  # type: ignore[no-untyped-def]
        os._exit(9)

    monkeypatch.setattr(manifest_module, "hash_job", dying)
    assert hash_files(pairs) == expected


def test_a_helper_that_dies_while_linking_stops_the_run_marked(build, tmp_path: Path, helped, monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    monkeypatch.setattr(forked_module, "link_job", lambda job, run: os._exit(9))
    packpath = tmp_path / "2011.0.00229.S"
    with pytest.raises(ExecutionError, match="ended unexpectedly"):
        package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    assert (packpath / MARKER).is_file()


# -- the scan ----------------------------------------------------------------------------------

def _alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = probe_module._Walker.__init__

    def unshared(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real(self, *args, **kwargs)
        self.may_share = False

    monkeypatch.setattr(probe_module._Walker, "__init__", unshared)


@pytest.mark.parametrize("follow_links", [False, True])
def test_a_tree_scanned_with_the_helper_is_the_tree_scanned_alone(build, tmp_path: Path, monkeypatch,
                                                                 follow_links: bool) -> None:
    root = build(project229_setup3(), "project229")
    for folder in ("Combined", "X528", "X8c"):  # links of every kind, in both shares (SB3's folders)
        inside = root / SB3 / folder
        os.symlink("missing.log", inside / "dangling.log")
        os.symlink(str(tmp_path), inside / "outside")
        os.symlink(next(p.name for p in sorted(inside.iterdir()) if p.is_dir()), inside / "again")
    started: list[int] = []
    real = probe_module.Helper.__init__

    def counted(self, jobs, work):  # type: ignore[no-untyped-def]
        started.append(len(jobs))
        real(self, jobs, work)

    monkeypatch.setattr(probe_module.Helper, "__init__", counted)
    shared = scan_tree(root, follow_links=follow_links)
    assert started and started[0] >= 1
    _alone(monkeypatch)
    alone = scan_tree(root, follow_links=follow_links)
    assert len(started) == 1 and shared == alone and shared.links and shared.owner_samples


def test_an_error_in_the_helpers_share_is_the_error_of_a_scan_alone(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "orig"
    for name in ("a", "b", "c"):
        (root / name / "inner").mkdir(parents=True)
        (root / name / "inner" / "file.txt").write_text(name)
    os.symlink("..", root / "b" / "inner" / "up")  # b goes to the helper (every second folder)
    with pytest.raises(InputError) as shared:
        scan_tree(root, follow_links=True)
    _alone(monkeypatch)
    with pytest.raises(InputError) as alone:
        scan_tree(root, follow_links=True)
    assert "symlink loop" in str(shared.value) and str(shared.value) == str(alone.value)


def test_a_scan_whose_helper_dies_is_complete(build, monkeypatch) -> None:
    root = build(project229_setup3(), "project229")
    expected = scan_tree(root)
    real = probe_module._Walker._scan_for_helper
    calls = {"n": 0}

    def dying(self, child, run):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # after it has sent one subtree
            os._exit(9)
        return real(self, child, run)

    monkeypatch.setattr(probe_module._Walker, "_scan_for_helper", dying)
    assert scan_tree(root) == expected
