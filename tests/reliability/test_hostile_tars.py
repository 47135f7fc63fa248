"""Hostile tars: each is refused with nothing left behind, or unpacked harmlessly, and nothing lands outside.

The cases are what an attacker (or a broken archive) would try on restore-prep: names that
leave the target, links through links, hard links out, duplicate names, devices, long-name
tricks in PAX and GNU headers, sparse and compressed bombs, and tens of thousands of tiny
members.  A folder beside the target (``outside/``) holds a secret that must stay as it is.
"""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from factories import TarMember, tree_listing, write_tar
from qa2pack.core.errors import ExecutionError, InputError, Qa2packError
from qa2pack.restore import unpack as unpack_module
from qa2pack.restore.unpack import unpack_archive


def info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname, member.mode = kind, link, mode
    return member




def ok(name: str = "P/ok.txt") -> TarMember:
    return info(name), b"fine"


def folder(name: str) -> TarMember:
    return info(name, tarfile.DIRTYPE, mode=0o755), None


def link(name: str, target: str) -> TarMember:
    return info(name, tarfile.SYMTYPE, target), None


def hard(name: str, target: str) -> TarMember:
    return info(name, tarfile.LNKTYPE, target), None


def through_links_out() -> list[TarMember]:
    # The case: 'a' is checked before 'b' exists; followed through 'b', it leads 17 levels up.
    return [folder("P/x/y/script"), link("P/x/y/script/a", "b/" * 12 + "../" * 17 + "outside/secret"),
            link("P/x/y/script/b", ".")]


REFUSED: dict[str, Callable[[Path], list[TarMember]]] = {
    "dotdot": lambda t: [ok(), (info("P/../../outside/evil"), b"x")],
    "dotdot-at-start": lambda t: [(info("../outside/evil"), b"x")],
    "absolute": lambda t: [ok(), (info(str(t / "outside" / "evil")), b"x")],
    "absolute-dot-slash": lambda t: [(info("/./" + str(t / "outside" / "evil")), b"x")],
    "windows-drive": lambda t: [(info("C:/outside/evil"), b"x")],
    "backslash-root": lambda t: [(info("\\\\server\\share\\evil"), b"x")],
    "empty-name": lambda t: [(info("./"), b"x")],
    "symlink-absolute": lambda t: [ok(), link("P/etc", "/etc")],
    "symlink-up": lambda t: [ok(), link("P/out", "../../outside")],
    "symlink-then-file-through-it": lambda t: [ok(), link("P/out", "../../outside"), (info("P/out/evil"), b"x")],
    "file-through-inner-link": lambda t: [folder("P/sub"), link("P/in", "sub"), (info("P/in/evil"), b"x")],
    "links-through-links": lambda t: through_links_out(),
    "links-through-links-other-order": lambda t: list(reversed(through_links_out())),
    "link-chain-out": lambda t: [link("P/a", "b"), link("P/b", "c"), link("P/c", "../../outside")],
    "link-loop": lambda t: [link("P/a", "b"), link("P/b", "a")],
    "link-to-dot-then-up": lambda t: [link("P/here", "."), link("P/esc", "here/here/../../../outside")],
    "hardlink-absolute": lambda t: [ok(), hard("P/passwd", str(t / "outside" / "secret"))],
    "hardlink-up": lambda t: [ok(), hard("P/secret", "../outside/secret")],
    "hardlink-to-missing": lambda t: [hard("P/ghost", "P/nothing")],
    "hardlink-to-folder": lambda t: [folder("P/d"), hard("P/h", "P/d")],
    "hardlink-through-link": lambda t: [link("P/l", "../../outside"), hard("P/h", "P/l/secret")],
    "duplicate-file": lambda t: [ok("P/a.txt"), ok("P/a.txt")],
    "file-then-folder": lambda t: [ok("P/a"), folder("P/a")],
    "file-below-a-file": lambda t: [ok("P/a"), ok("P/a/b")],
    "char-device": lambda t: [ok(), (info("P/null", tarfile.CHRTYPE), None)],
    "block-device": lambda t: [ok(), (info("P/disk", tarfile.BLKTYPE), None)],
    "fifo": lambda t: [ok(), (info("P/pipe", tarfile.FIFOTYPE), None)],
    "pax-long-name-up": lambda t: [(info("P/" + "x" * 150 + "/" + "../" * 3 + "../outside/evil"), b"x")],
    "pax-long-link-absolute": lambda t: [link("P/l", "/" + "y" * 200 + "/../../etc/passwd")],
}
GNU_REFUSED = {
    "gnu-long-name-up": lambda t: [(info("P/" + "z" * 120 + "/../../../outside/evil"), b"x")],
    "gnu-long-link-up": lambda t: [link("P/" + "q" * 110, "../" * 5 + "outside/secret")],
}


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, Path]:
    into, outside = tmp_path / "target", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    return into, outside


def assert_refused_and_nothing_left(archive: Path, into: Path, tmp_path: Path, error: type[Exception]) -> None:
    before = tree_listing(tmp_path)
    with pytest.raises(error):
        unpack_archive(archive, into)
    assert tree_listing(tmp_path) == before  # nothing written, inside or outside
    assert (tmp_path / "outside" / "secret").read_text() == "keep me"


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_hostile_tars_are_refused_before_anything_is_written(case: str, place, tmp_path: Path) -> None:
    into, _ = place
    archive = write_tar(tmp_path / f"{case}.tar", REFUSED[case](tmp_path))
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


@pytest.mark.parametrize("case", sorted(GNU_REFUSED))
def test_gnu_long_name_tricks_are_refused(case: str, place, tmp_path: Path) -> None:
    into, _ = place
    archive = write_tar(tmp_path / f"{case}.tar", GNU_REFUSED[case](tmp_path), fmt=tarfile.GNU_FORMAT)
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def test_a_link_already_in_the_target_is_never_written_through(place, tmp_path: Path) -> None:
    into, outside = place
    into.mkdir()
    os.symlink(outside, into / "P")  # left there by someone else
    archive = write_tar(tmp_path / "t.tar", [folder("P"), (info("P/evil"), b"x")])
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def test_an_existing_file_is_never_overwritten(place, tmp_path: Path) -> None:
    into, _ = place
    (into / "P").mkdir(parents=True)
    (into / "P" / "ok.txt").write_text("mine")
    archive = write_tar(tmp_path / "t.tar", [ok()])
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)
    assert (into / "P" / "ok.txt").read_text() == "mine"


def test_a_truncated_tar_is_refused(place, tmp_path: Path) -> None:
    into, _ = place
    archive = write_tar(tmp_path / "t.tar", [ok(), (info("P/big"), b"y" * 50_000)])
    archive.write_bytes(archive.read_bytes()[:20_000])
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def _tight(monkeypatch, free_bytes: int, free_inodes: int = 10**9) -> None:
    real = os.statvfs

    def statvfs(path):
        found = real(path)
        return os.statvfs_result((found.f_bsize, 1, free_bytes, free_bytes, free_bytes, max(found.f_files, 1),
                                  free_inodes, free_inodes, found.f_flag, found.f_namemax))

    monkeypatch.setattr(unpack_module.os, "statvfs", statvfs)


def test_a_sparse_bomb_is_refused_by_its_declared_size(place, tmp_path: Path) -> None:
    into, _ = place
    sparse = tmp_path / "src" / "P" / "sparse.bin"
    sparse.parent.mkdir(parents=True)
    with open(sparse, "wb") as handle:
        handle.truncate(10 * 2**40)  # 10 TiB declared, nothing written
    archive = tmp_path / "sparse.tar"
    subprocess.run(["tar", "-cSf", str(archive), "-C", str(tmp_path / "src"), "P"], check=True)
    sparse.unlink()
    assert archive.stat().st_size < 100_000
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def test_a_compressed_bomb_is_refused_before_it_is_written(place, tmp_path: Path, monkeypatch) -> None:
    into, _ = place
    archive = tmp_path / "bomb.tar"  # a '.tar' that is gzip inside, as the issue tried
    zeros = 200 << 20
    with gzip.open(archive, "wb", compresslevel=1) as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        member = info("P/zeros.bin")
        member.size = zeros
        tar.addfile(member, io.BufferedReader(io.BytesIO(bytes(zeros))))  # type: ignore[arg-type]
    assert archive.stat().st_size < 2 << 20
    _tight(monkeypatch, 64 << 20)  # a disk with 64 MiB free, as where the issue measured it
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def test_thirty_thousand_tiny_members_are_refused_without_the_inodes(place, tmp_path: Path, monkeypatch) -> None:
    into, _ = place
    archive = tmp_path / "tiny.tar"
    with tarfile.open(archive, "w") as tar:
        for n in range(30_000):
            tar.addfile(info(f"P/{n:05d}"))
    _tight(monkeypatch, 10**12, free_inodes=20_000)
    assert_refused_and_nothing_left(archive, into, tmp_path, InputError)


def test_a_tar_changed_after_it_was_checked_leaves_nothing(place, tmp_path: Path, monkeypatch) -> None:
    into, _ = place
    archive = write_tar(tmp_path / "t.tar", [folder("P"), ok("P/a.txt"), ok("P/b.txt")])
    real = unpack_module.extract_tar

    def swap_then_extract(extraction, path, planned, rename):
        write_tar(path, [folder("P"), ok("P/a.txt"), link("P/b.txt", "../../outside/secret")])
        return real(extraction, path, planned, rename)

    monkeypatch.setattr(unpack_module, "extract_tar", swap_then_extract)
    before = tree_listing(tmp_path)
    with pytest.raises(ExecutionError, match="changed after it was checked"):
        unpack_archive(archive, into)
    after = [line for line in tree_listing(tmp_path) if "t.tar" not in line]
    assert after == [line for line in before if "t.tar" not in line]  # what it had written was removed


@pytest.mark.parametrize("case", ["harmless-dot-slash", "setuid", "inner-link", "hardlink-inside", "deep-dotdot"])
def test_harmless_oddities_unpack_inside_only(case: str, place, tmp_path: Path) -> None:
    into, outside = place
    members = {
        "harmless-dot-slash": [(info(".//P/./a.txt"), b"a")],
        "setuid": [(info("P/run.sh", mode=0o4755), b"#!/bin/sh\n")],
        "inner-link": [folder("P/sub"), ok("P/sub/a.txt"), link("P/alias", "sub/a.txt")],
        "hardlink-inside": [ok("P/a.txt"), hard("P/b.txt", "P/a.txt")],
        "deep-dotdot": [folder("P/a/b"), link("P/a/b/up", "../../top.txt"), ok("P/top.txt")],
    }[case]
    archive = write_tar(tmp_path / f"{case}.tar", members)
    unpack_archive(archive, into)
    real_into = os.path.realpath(into)
    for path in into.rglob("*"):
        assert os.path.realpath(path).startswith(real_into + os.sep)
        if path.is_file():
            assert not path.stat().st_mode & 0o6000  # no set-id bits
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_the_cli_refuses_a_hostile_delivery_in_one_line(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    members = [folder("2013.1.00001.S/sg_ouss_id/group_ouss_id/member_ouss_id/script")]
    members += [(m.replace(name="2013.1.00001.S/sg_ouss_id/group_ouss_id/member_ouss_id/" + m.name[2:]), d)
                for m, d in through_links_out()]
    archive = write_tar(tmp_path / "2013.1.00001.S_uid___A001_X1_X2_001_of_001.tar", members)
    before = tree_listing(tmp_path)
    done = subprocess.run([sys.executable, "-m", "qa2pack", "restore-prep", str(archive), "--into",
                           str(tmp_path / "restore")], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "leads outside the target folder" in done.stderr
    assert "Traceback" not in done.stderr
    assert tree_listing(tmp_path) == before


def test_every_refusal_is_a_qa2pack_error() -> None:
    assert issubclass(InputError, Qa2packError) and issubclass(ExecutionError, Qa2packError)
    assert len(REFUSED) + len(GNU_REFUSED) + 11 >= 30  # the cases this suite tries
