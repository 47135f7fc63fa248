"""Delivery tars: exact sizes, no part over the limit, nothing lost, md5 sidecars like md5sum."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import SB3, eb
from qa2pack import Mode, PackageOptions, package
from qa2pack.cli import main
from qa2pack.core.errors import ExecutionError, InputError, UsageError
from qa2pack.delivery.tarsplit import (
    TarEntry,
    find_units,
    header_size,
    make_tarinfo,
    parse_size,
    split_into_parts,
    tar_bytes,
    tarsplit,
    ustar_header,
    write_part,
)
from qa2pack.delivery.uids import DeliveryNaming, read_uid_map

PROJECT = "2011.0.00229.S"
MOUS = "uid___A001_X121_X229"
NAMED = DeliveryNaming(mous_uid=MOUS)


def entries_for(sizes: list[int], names: list[str] | None = None) -> list[TarEntry]:
    dirs = [f"{PROJECT}", f"{PROJECT}/sg_ouss_id", f"{PROJECT}/sg_ouss_id/group_ouss_id",
            f"{PROJECT}/sg_ouss_id/group_ouss_id/member_ouss_id"]
    out = [TarEntry(d, 0, header_size(d, 0, True), True) for d in dirs]
    for n, size in enumerate(sizes):
        name = f"{dirs[-1]}/{names[n] if names else f'f{n:04d}'}"
        out.append(TarEntry(name, size, header_size(name, size, False), False))
    return out


@settings(derandomize=True, max_examples=80, deadline=None)
@given(sizes=st.lists(st.integers(0, 30_000), min_size=1, max_size=60), limit=st.integers(40_000, 120_000))
def test_parts_respect_the_limit_and_keep_every_file_once(sizes: list[int], limit: int) -> None:
    entries = entries_for(sizes)
    parts = split_into_parts(entries, limit)
    files = [e for part in parts for e in part if not e.is_dir]
    assert files == [e for e in entries if not e.is_dir]  # nothing lost, nothing doubled, order kept
    for part in parts:  # within the limit, or one file that cannot fit any part (warned about)
        part_files = [e for e in part if not e.is_dir]
        assert tar_bytes(part) <= limit or (len(part_files) == 1 and tar_bytes(
            [e for e in entries[:4]] + part_files) > limit)
    assert all(any(not e.is_dir for e in part) for part in parts[:-1])  # no part of folders only, but the last
    for part in parts:  # every part holds the folders leading to its files
        names = {e.name for e in part}
        assert all(str(PurePosixPath(e.name).parent) in names for e in part if not e.is_dir)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(name=st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=150),
                      st.text("abcXYZ._-0123/", min_size=1, max_size=600).filter(lambda n: "//" not in n
                                                                                  and not n.endswith("/"))),
       size=st.sampled_from([0, 1, 511, 512, 8**11 - 1, 8**11, 10**12]), is_dir=st.booleans())
def test_header_size_is_what_tarfile_writes(name: str, size: int, is_dir: bool) -> None:
    full = f"{PROJECT}/{name}"
    info = make_tarinfo(TarEntry(full, size, 0, is_dir, 0o644, 1_700_000_000))
    rendered = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    assert header_size(full, size, is_dir, 0o644, 1_700_000_000) == len(rendered)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(name=st.one_of(st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=120),
                      st.text("abcXYZ._-0123/ ", min_size=1, max_size=1200).filter(lambda n: "//" not in n
                                                                                   and not n.endswith("/"))),
       size=st.sampled_from([0, 1, 511, 512, 123_456_789, 8**11 - 1, 8**11]), is_dir=st.booleans(),
       mode=st.sampled_from([0o644, 0o755, 0o600, 0o4755, 0o777]),
       mtime=st.sampled_from([0, 1, 1_700_000_000, 8**11 - 1, 8**11]))
def test_headers_are_byte_for_byte_what_tarfile_writes(name: str, size: int, is_dir: bool, mode: int,
                                                       mtime: int) -> None:
    entry = TarEntry(f"{PROJECT}/{name}", size, 0, is_dir, mode, mtime)
    ours = ustar_header(entry)
    theirs = make_tarinfo(entry).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    if sys.version_info >= (3, 9):
        assert ours == theirs
    else:  # Python 3.8's tarfile fills the device fields of a file with zeros; later ones leave them empty, as we do
        padded = io.BytesIO(ours + bytes(1024))  # the first member is read from its header alone
        with tarfile.open(fileobj=padded, encoding="utf-8", errors="surrogateescape") as archive:
            back, expected = archive.next(), make_tarinfo(entry)
        assert back is not None
        assert (back.name, back.size, back.mode, back.mtime, back.type) == (
            expected.name, expected.size, expected.mode, expected.mtime, expected.type) and len(ours) == len(theirs)


def test_a_written_tar_has_exactly_the_computed_size(tmp_path: Path) -> None:
    long_name = "uid___A002_X3c9295_X8c.calibration/" + "x" * 120 + "/table.f0"
    sources = []
    for n, size in enumerate([0, 1, 511, 512, 513, (1 << 20) + 70_000]):  # the last one is read in chunks
        path = tmp_path / f"src{n}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"z" * (size % 256))
        os.utime(path, (1_700_000_000, 1_700_000_000))  # as listed: tarsplit checks it is the same file
        sources.append(path)
    entries = entries_for([p.stat().st_size for p in sources],
                          ["a", "b.png", "naïve ü.txt", long_name.replace("/", "_"), "c", "d"])
    entries = [e if e.is_dir else TarEntry(e.name, e.size, e.header, False, 0o644, 1_700_000_000,
                                           str(sources[int(i)])) for i, e in
               ((str(n - 4) if not e.is_dir else "0", e) for n, e in enumerate(entries))]
    target = tmp_path / "t.tar"
    md5, size = write_part(entries, target)
    assert size == target.stat().st_size == tar_bytes(entries)
    assert md5 == hashlib.md5(target.read_bytes()).hexdigest()
    assert not list(tmp_path.glob("*.partial"))


def test_all_parts_untarred_in_one_place_rebuild_the_member_byte_for_byte(copy_package: Path, tmp_path: Path) -> None:
    result = tarsplit(copy_package, tmp_path / "tars", max_size=120_000, naming=NAMED)
    names = [p.name for p, _, _ in result.tars]
    assert len(names) > 5
    assert names[0] == f"{PROJECT}_{MOUS}_001_of_{len(names):03d}.tar"
    assert any("needs" in w and "single-part members" in w for w in result.warnings)
    assert all(size <= 120_000 for _, _, size in result.tars)
    out = tmp_path / "untarred"
    for path, _, _ in result.tars:
        with tarfile.open(path) as tar:
            assert tar.getmembers()[0].name == PROJECT and tar.getmembers()[0].isdir()  # top entry <Project>/
            tar.extractall(out, filter="data")
    original = {p.relative_to(copy_package.parent): p for p in copy_package.rglob("*")}
    rebuilt = {p.relative_to(out): p for p in (out / PROJECT).rglob("*")}
    assert sorted(map(str, rebuilt)) == sorted(map(str, original))
    for rel, path in original.items():
        if path.is_file():
            assert rebuilt[rel].read_bytes() == path.read_bytes(), rel


def test_md5_sidecars_match_md5sum(copy_package: Path, tmp_path: Path) -> None:
    result = tarsplit(copy_package, tmp_path / "tars", max_size=parse_size("300kB"), naming=NAMED)
    md5sum = shutil.which("md5sum")
    for path, md5, _ in result.tars:
        sidecar = path.with_name(path.name + ".md5sum").read_text()
        assert sidecar == f"{md5}  {path.name}\n"
        if md5sum:
            done = subprocess.run([md5sum, path.name], cwd=path.parent, capture_output=True, text=True, check=True)
            assert done.stdout == sidecar


def test_one_file_bigger_than_the_limit_gets_its_own_part(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X20_X1") | {"SB/big.fits": "@fits"})
    (root / "SB/big.fits").write_bytes(b"\0" * 400_000)
    packpath = tmp_path / "2019.1.00001.S"
    package(root, packpath, PackageOptions(mode=Mode.COPY))
    result = tarsplit(packpath, tmp_path / "tars", max_size=150_000, naming=NAMED)
    assert any("big.fits alone is bigger than the limit" in w for w in result.warnings)
    listings = {}
    for path, _, _ in result.tars:
        with tarfile.open(path) as tar:
            listings[path.name] = [m.name for m in tar.getmembers() if m.isfile()]
    with_big = [name for name, files in listings.items() if any("big.fits" in f for f in files)]
    assert len(with_big) == 1
    assert listings[with_big[0]] == ["2019.1.00001.S/sg_ouss_id/group_ouss_id/member_ouss_id/product/big.fits"]


def test_group_level_products_get_the_group_tar_name(copy_package: Path, tmp_path: Path) -> None:
    group = copy_package / "sg_ouss_id/group_ouss_id"
    (group / "product").mkdir()
    (group / "product" / "combined_12m_7m.fits").write_bytes(b"fits" * 100)
    uid_map = tmp_path / "uids.txt"
    uid_map.write_text(f"# folder  uid\nmember_ouss_id  {MOUS}\ngroup_ouss_id  uid://A001/X121/X228\n")
    units, warnings = find_units(copy_package, DeliveryNaming(uid_map=read_uid_map(uid_map)))
    assert [(u.level, u.ous, u.named_by) for u in units] == [("member", MOUS, "--uid-map"),
                                                             ("group", "uid___A001_X121_X228", "--uid-map")]
    result = tarsplit(copy_package, tmp_path / "tars", naming=DeliveryNaming(uid_map=read_uid_map(uid_map)))
    assert [p.name for p, _, _ in result.tars] == [f"{PROJECT}_{MOUS}_001_of_001.tar",
                                                     f"{PROJECT}_uid___A001_X121_X228_001_of_001.tar"]
    with tarfile.open(tmp_path / "tars" / f"{PROJECT}_uid___A001_X121_X228_001_of_001.tar") as tar:
        assert f"{PROJECT}/sg_ouss_id/group_ouss_id/product/combined_12m_7m.fits" in tar.getnames()
        assert not [n for n in tar.getnames() if "member_ouss_id" in n]


def test_placeholder_names_need_asking_for_and_are_warned_about(copy_package: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no uid is known for sg_ouss_id/group_ouss_id/member_ouss_id"):
        tarsplit(copy_package, tmp_path / "tars")
    assert not (tmp_path / "tars").exists()
    result = tarsplit(copy_package, tmp_path / "tars", naming=DeliveryNaming(placeholder_names=True))
    assert [p.name for p, _, _ in result.tars] == [f"{PROJECT}_member_ouss_id_001_of_001.tar"]
    assert any("cannot ingest" in w for w in result.warnings)


def test_the_readme_is_the_last_member_whose_name_holds_readme(copy_package: Path, tmp_path: Path) -> None:
    (copy_package / "sg_ouss_id/group_ouss_id/member_ouss_id/qa/README_qa2.txt").write_text("notes\n")
    result = tarsplit(copy_package, tmp_path / "tars", naming=NAMED)
    with tarfile.open(result.tars[0][0]) as tar:
        names = tar.getnames()
    assert [n for n in names if "README" in n][-1] == f"{PROJECT}/sg_ouss_id/group_ouss_id/member_ouss_id/README"
    assert names[-1].endswith("member_ouss_id/README")


def test_conflicting_uids_are_refused(copy_package: Path, tmp_path: Path) -> None:
    sg = copy_package / "science_goal.uid___A001_X1284_X265c"
    (copy_package / "sg_ouss_id").rename(sg)
    (sg / "group_ouss_id").rename(sg / "group.uid___A001_X1284_X265d")
    group = sg / "group.uid___A001_X1284_X265d"
    (group / "member_ouss_id").rename(group / "member.uid___A001_X1284_X265f")
    with pytest.raises(InputError, match="conflicting uids"):
        tarsplit(copy_package, tmp_path / "tars", naming=DeliveryNaming(mous_uid="uid://A001/X1284/X9999"))
    assert not (tmp_path / "tars").exists()


def test_a_packpath_that_is_no_project_code_is_refused(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X20_X1"))
    packpath = tmp_path / "out"
    package(root, packpath, PackageOptions(mode=Mode.COPY))
    with pytest.raises(UsageError, match="not named by a project code"):
        tarsplit(packpath, tmp_path / "tars", naming=NAMED)
    result = tarsplit(packpath, tmp_path / "tars", naming=DeliveryNaming(mous_uid=MOUS, any_project_name=True))
    assert result.tars[0][0].name == f"out_{MOUS}_001_of_001.tar"


def test_refusals(copy_package: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(UsageError, match="not a size"):
        parse_size("fifty gigs")
    (copy_package / ".qa2pack-incomplete").write_text("{}")
    with pytest.raises(InputError, match="incomplete package"):
        tarsplit(copy_package, tmp_path / "t")
    (copy_package / ".qa2pack-incomplete").unlink()
    fake = tmp_path / "fake" / PROJECT
    package(next(copy_package.parent.parent.glob("project229")) / SB3, fake)
    assert main(["tarsplit", str(fake)]) == 2
    assert "made in fake mode" in capsys.readouterr().err
    assert main(["tarsplit", str(fake), "--fake-ok", "--output", str(tmp_path / "ft"), "--json"]) == 2
    assert "--mous-uid" in capsys.readouterr().err
    assert main(["tarsplit", str(fake), "--fake-ok", "--output", str(tmp_path / "ft"), "--json",
                 "--mous-uid", "uid://A001/X121/X229"]) == 0
    assert (tmp_path / "ft" / f"{PROJECT}_{MOUS}_001_of_001.tar").is_file()


def test_sizes_parse_decimal_and_binary() -> None:
    assert parse_size("50GB") == 50 * 10**9
    assert parse_size("2GiB") == 2 * 2**30
    assert parse_size("500MB") == 500 * 10**6
    assert parse_size("123456") == 123456


def test_tarinfo_has_no_owner_and_whole_seconds() -> None:
    info = make_tarinfo(TarEntry("P/a", 3, 512, False, 0o600, 1_700_000_000))
    buf = io.BytesIO(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
    assert len(buf.getvalue()) == 512 and info.uid == 0 and info.uname == ""


def test_a_failed_write_surfaces_and_the_md5_matches_what_was_written(tmp_path: Path) -> None:
    from qa2pack.formats.manifest import HashingWriter

    class Full(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"), HashingWriter(Full()) as writer:
        for _ in range(40):
            writer.write(b"x" * (1 << 20))
    data = [bytes([n]) * (n * 70_000 + 1) for n in range(60)]
    with open(tmp_path / "out", "wb") as handle, HashingWriter(handle) as writer:
        for block in data:
            writer.write(block)
    assert writer.digest.hexdigest() == hashlib.md5(b"".join(data)).hexdigest()
    assert (tmp_path / "out").read_bytes() == b"".join(data)


def test_pieces_and_files_are_hashed_and_written_in_the_order_given(tmp_path: Path) -> None:
    from qa2pack.formats.manifest import HashingWriter

    data = bytes(range(256)) * 40_000  # 10 MB: its reads cross the ends of the 4 MiB blocks
    (tmp_path / "source").write_bytes(data)
    pieces = [(b"h%d" % n, bytes([n]) * (n * 900), b"\0" * (n % 7)) for n in range(200)]
    expected, pos = b"", 0
    fd = os.open(tmp_path / "source", os.O_RDONLY)
    try:
        with open(tmp_path / "out", "wb") as handle, HashingWriter(handle) as writer:
            for n, group in enumerate(pieces):
                if n % 50 == 49:  # now and then part of a file, read straight into the blocks
                    size = 1_000_003 + n
                    assert writer.read_from(fd, size) == size
                    expected, pos = expected + data[pos:pos + size], pos + size
                for piece in group:
                    writer.write(piece)
                expected += b"".join(group)
            assert writer.read_from(fd, 1 << 30) == len(data) - pos  # the file ended first
            expected += data[pos:]
    finally:
        os.close(fd)
    assert writer.size == len(expected)
    assert writer.digest.hexdigest() == hashlib.md5(expected).hexdigest()
    assert (tmp_path / "out").read_bytes() == expected


def test_a_member_read_with_its_header_and_padding_is_written_whole_or_without_padding(tmp_path: Path) -> None:
    """A small member fills its block in one call; one across blocks, one read short, or one that ended too."""
    import threading

    from qa2pack.formats.manifest import HashingWriter

    big = bytes(range(256)) * 20_000  # 5 MB: it crosses the end of a 4 MiB block
    (tmp_path / "big").write_bytes(big)
    (tmp_path / "short").write_bytes(b"s" * 10)
    reader, feeder = os.pipe()  # a read that returns less than asked while more is coming
    os.write(feeder, b"p" * 100)

    def feed_later() -> None:
        os.write(feeder, b"q" * 200)
        os.close(feeder)

    expected = b""
    with open(tmp_path / "out", "wb") as handle, HashingWriter(handle) as writer:
        for n in range(3):
            with open(tmp_path / "big", "rb") as source:
                assert writer.read_from(source.fileno(), 1000 + n, b"H" * 512, b"\0" * 24) == 1000 + n
            expected += b"H" * 512 + big[:1000 + n] + b"\0" * 24
        with open(tmp_path / "big", "rb") as source:
            assert writer.read_from(source.fileno(), len(big), b"B" * 512, b"\0" * 7) == len(big)
        expected += b"B" * 512 + big + b"\0" * 7
        later = threading.Timer(0.2, feed_later)
        later.start()
        try:
            assert writer.read_from(reader, 300, b"P" * 512, b"\0" * 212) == 300
        finally:
            later.join()
            os.close(reader)
        expected += b"P" * 512 + b"p" * 100 + b"q" * 200 + b"\0" * 212
        with open(tmp_path / "short", "rb") as source:  # it ended first: no padding, the caller refuses it
            assert writer.read_from(source.fileno(), 20, b"S" * 512, b"\0" * 492) == 10
        expected += b"S" * 512 + b"s" * 10
    assert writer.size == len(expected)
    assert writer.digest.hexdigest() == hashlib.md5(expected).hexdigest()
    assert (tmp_path / "out").read_bytes() == expected


@pytest.mark.parametrize("size", [5000, (1 << 20) + 5000])  # read at once, and read in chunks
@pytest.mark.parametrize("change", ["shrunk", "grown", "touched", "vanished"])
def test_a_file_that_changes_while_archived_fails_the_part_and_removes_it(tmp_path: Path, change: str,
                                                                          size: int) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"y" * size)
    os.utime(source, (1_700_000_000, 1_700_000_000))
    entry = TarEntry(f"{PROJECT}/data.bin", size, header_size(f"{PROJECT}/data.bin", size, False), False,
                     mtime=1_700_000_000, source=str(source))
    if change == "shrunk":
        source.write_bytes(b"y" * (size // 5))
    elif change == "grown":
        source.write_bytes(b"y" * (size + 4000))
    elif change == "touched":
        os.utime(source, (1_700_000_100, 1_700_000_100))
    else:
        source.unlink()
    target = tmp_path / "out.tar"
    with pytest.raises(ExecutionError, match="while out.tar was written.*out.tar.partial was removed"):
        write_part([entry], target)
    assert not target.exists() and not (tmp_path / "out.tar.partial").exists()


def test_a_file_touched_within_the_second_it_was_listed_fails_the_part(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"y" * 5000)
    listed = source.stat()
    entry = TarEntry(f"{PROJECT}/data.bin", 5000, header_size(f"{PROJECT}/data.bin", 5000, False), False,
                     mtime=int(listed.st_mtime), source=str(source), mtime_ns=listed.st_mtime_ns)
    os.utime(source, ns=(listed.st_atime_ns, listed.st_mtime_ns + 1))  # same size, same second, not the file listed
    target = tmp_path / "out.tar"
    with pytest.raises(ExecutionError, match="data.bin changed .* while out.tar was written"):
        write_part([entry], target)
    assert not target.exists() and not (tmp_path / "out.tar.partial").exists()
    os.utime(source, ns=(listed.st_atime_ns, listed.st_mtime_ns))
    assert write_part([entry], target)[1] == target.stat().st_size


def test_the_tar_constants_written_out_are_tarfiles() -> None:
    from qa2pack.delivery import tarsplit as module

    assert (module.BLOCK, module.RECORD, module.TAR_FORMAT) == (tarfile.BLOCKSIZE, tarfile.RECORDSIZE,
                                                                tarfile.PAX_FORMAT)
    assert module._POSIX_MAGIC == tarfile.POSIX_MAGIC
    assert (module._REGTYPE, module._DIRTYPE, module._XHDTYPE) == (tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.XHDTYPE)
