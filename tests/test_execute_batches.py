"""Links made a folder at a time (hard, fake), copies made in several folders at once, and the results kept."""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import SB3, project229_setup3, refuse_first_link, tree_listing
from qa2pack import Mode, PackageOptions, package
from qa2pack.core.errors import ExecutionError
from qa2pack.delivery.layout import MARKER
from qa2pack.formats.manifest import Unhashed, read_manifest, write_manifest
from qa2pack.run import execute as execute_module
from qa2pack.run.execute import EmptyInodes, ExecutionResult, Planned, hard_link_names, take_turns


def _folder(path: Path, names: list[str], data: bytes = b"x") -> Path:
    path.mkdir(parents=True)
    for name in names:
        (path / name).write_bytes(data)
    return path


def test_a_folder_of_hard_links_shares_the_inodes(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", [f"f{n}" for n in range(600)])
    (tmp_path / "dst").mkdir()
    hard_link_names(str(src), str(tmp_path / "dst"), [f"f{n}" for n in range(600)], threading.Event())
    assert all((tmp_path / "dst" / f"f{n}").stat().st_ino == (src / f"f{n}").stat().st_ino for n in range(600))


def test_a_failed_link_is_named_by_its_whole_paths_and_an_abort_stops_the_folder(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", ["a", "b"])
    dst = tmp_path / "dst"
    dst.mkdir()
    (src / "b").unlink()
    with pytest.raises(FileNotFoundError) as caught:
        hard_link_names(str(src), str(dst), ["a", "b"], threading.Event())
    assert (caught.value.filename, caught.value.filename2) == (str(src / "b"), str(dst / "b"))
    stop = threading.Event()
    stop.set()
    other = tmp_path / "other"
    other.mkdir()
    hard_link_names(str(src), str(other), ["a"], stop)
    assert not list(other.iterdir())


def test_empty_files_of_a_folder_take_a_new_shared_inode_when_one_is_full(tmp_path: Path, monkeypatch) -> None:
    recorded: list[str] = []
    empty = EmptyInodes(tmp_path, recorded.append, per_inode=3)
    dst = tmp_path / "dst"
    dst.mkdir()
    empty.link_names("", str(dst), [f"f{n}" for n in range(7)], threading.Event())
    assert recorded == [".qa2pack-empty-0", ".qa2pack-empty-1", ".qa2pack-empty-2"]
    refuse_first_link(monkeypatch)
    empty.link_names("", str(dst), ["g", "h"], threading.Event())
    assert recorded[-1] == ".qa2pack-empty-3"
    empty.remove_sources()
    assert sorted(p.name for p in dst.iterdir()) == [*(f"f{n}" for n in range(7)), "g", "h"]
    assert all(p.stat().st_size == 0 and p.stat().st_nlink <= 3 for p in dst.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst"]


def test_a_source_gone_while_its_folder_is_linked_stops_the_run_marked(build, tmp_path: Path, monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    real = execute_module.hard_link_names
    gone: list[Path] = []

    def vanishing(src_dir, dst_dir, names, abort):
        if not gone and len(names) > 1:  # the first folder of several files loses one after the plan
            gone.append(Path(src_dir, names[-1]))
            gone[0].rename(gone[0].with_name(gone[0].name + ".away"))
        return real(src_dir, dst_dir, names, abort)

    monkeypatch.setattr(execute_module, "hard_link_names", vanishing)
    packpath = tmp_path / "2011.0.00229.S"
    with pytest.raises(ExecutionError, match="No such file or directory") as caught:
        package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    assert str(gone[0]) in str(caught.value)
    assert (packpath / MARKER).is_file()
    monkeypatch.undo()
    gone[0].with_name(gone[0].name + ".away").rename(gone[0])
    package(sb3, packpath, PackageOptions(mode=Mode.HARD))
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.HARD))
    assert tree_listing(packpath) == tree_listing(reference)
    manifest = read_manifest(packpath.parent / "2011.0.00229.S.manifest.tsv").entries
    assert manifest == read_manifest(reference.parent / "2011.0.00229.S.manifest.tsv").entries


names = st.text(alphabet="ab./-_", min_size=1, max_size=4).filter(lambda n: "/" not in n[:1] and "//" not in n)


@given(st.lists(st.tuples(st.sampled_from(["m", "m/t", "m/t.x", "m-t", "n"]),
                          st.lists(names, min_size=1, max_size=5, unique=True)), max_size=6),
       st.dictionaries(names.map(lambda n: f"m/{n}"), st.integers(0, 9), max_size=4))
def test_rows_come_in_path_order_whether_batches_overlap_or_not(batches, singles) -> None:
    result = ExecutionResult()
    expected: dict[str, tuple[int, str | None]] = {}
    for rel, files in batches:
        planned = tuple((name, len(name)) for name in sorted(files))
        result.planned.append(Planned(rel, planned))
        expected.update((f"{rel}/{name}", (size, None)) for name, size in planned)
    for rel, size in singles.items():  # written after the batches: they win where paths meet
        result.entries[rel] = (size, "0" * 32)
        expected[rel] = (size, "0" * 32)
    listing = list(result.listing())
    assert [(rel, (size, md5)) for rel, size, md5 in result.rows()] == sorted(expected.items())
    with tempfile.TemporaryDirectory() as folder:  # a batch kept as one block is written as its rows would be
        write_manifest(Path(folder, "blocks.tsv"), listing, {"mode": "hard"})
        write_manifest(Path(folder, "rows.tsv"), expected, {"mode": "hard"})
        assert Path(folder, "blocks.tsv").read_text() == Path(folder, "rows.tsv").read_text()


def test_batches_linked_as_planned_stay_one_block_each_in_the_listing() -> None:
    result = ExecutionResult()
    result.planned += [Planned("m/b", (("x", 1), ("y", 2))), Planned("m/a", (("z", 3),))]
    result.entries["m/README"] = (4, None)
    assert list(result.listing()) == [("m/README", 4, None), Unhashed("m/a", (("z", 3),)),
                                      Unhashed("m/b", (("x", 1), ("y", 2)))]


def test_a_folder_that_cannot_be_opened_leaves_no_descriptor_open(tmp_path: Path) -> None:
    src = _folder(tmp_path / "src", ["a"])
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(FileNotFoundError):
            hard_link_names(str(src), str(tmp_path / "missing"), ["a"], threading.Event())
    assert len(os.listdir("/proc/self/fd")) == before


@given(st.lists(st.integers(0, 5), max_size=6), st.integers(1, 4))
def test_streams_take_turns_in_order_and_no_more_than_width_are_begun_at_once(lengths, width) -> None:
    streams = [[(n, k) for k in range(length)] for n, length in enumerate(lengths)]
    out = list(take_turns((iter(stream) for stream in streams), width))
    assert sorted(out) == sorted(item for stream in streams for item in stream)
    assert all([k for m, k in out if m == n] == list(range(length)) for n, length in enumerate(lengths))
    for end in range(len(out)):  # a stream is begun from its first item until its last
        begun = {n for n, k in out[:end + 1] if k < lengths[n] - 1} - {n for n, k in out[:end + 1] if k == lengths[n] - 1}
        assert len(begun) <= width
    if width == 1:  # one at a time is the plain order (move keeps its journal in the order of the renames)
        assert out == [item for stream in streams for item in stream]


def test_copies_run_in_different_folders_at_once_and_make_the_same_package(build, tmp_path: Path,
                                                                          monkeypatch) -> None:
    sb3 = build(project229_setup3(), "project229") / SB3
    reference = tmp_path / "ref" / "2011.0.00229.S"
    package(sb3, reference, PackageOptions(mode=Mode.COPY))
    real = execute_module.run_tasks
    folders: list[str] = []

    def recording(tasks, workers, abort):  # the folder of each chunk, in the order the threads take them
        def noted():
            for task in tasks:
                folders.append(task.args[3])
                yield task
        return real(noted(), workers, abort)

    monkeypatch.setattr(execute_module, "_CHUNK_FILES", 1)
    monkeypatch.setattr(execute_module, "run_tasks", recording)
    packpath = tmp_path / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.COPY))
    threads = execute_module.THREADS[Mode.COPY]
    assert len(folders) > 2 * threads and len(set(folders[:threads])) == threads
    assert tree_listing(packpath) == tree_listing(reference)
    manifest = read_manifest(packpath.parent / "2011.0.00229.S.manifest.tsv").entries
    assert manifest == read_manifest(reference.parent / "2011.0.00229.S.manifest.tsv").entries
