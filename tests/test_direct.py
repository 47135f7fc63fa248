"""Writing past the page cache: the same bytes as an ordinary write, whatever the system allows."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from qa2pack.formats import direct
from qa2pack.formats.direct import ALIGN, DIRECT_MIN, StreamOut, aligned_buffer
from qa2pack.formats.manifest import copy_with_md5

pytestmark = pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no O_DIRECT on this platform")


def _flags(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_GETFL)


def _pattern(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def _write_in_blocks(path: Path, data: bytes, block: int) -> StreamOut:
    """Write ``data`` as the hashing writer does: direct asked for before every whole block."""
    buffer = aligned_buffer(block)
    view = memoryview(buffer)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        out = StreamOut(fd)
        for start in range(0, len(data), block):
            piece = data[start:start + block]
            view[:len(piece)] = piece
            if len(piece) == block:
                out.go_direct()
            out.write(view[:len(piece)])
    finally:
        os.close(fd)
    return out


def test_aligned_blocks_go_direct_and_the_tail_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _pattern(3 * ALIGN * 16 + 1234)  # three whole blocks, then a tail off the alignment
    fd = os.open(tmp_path / "probe", os.O_WRONLY | os.O_CREAT)
    try:
        if not StreamOut(fd).go_direct():
            pytest.skip("this file system refuses O_DIRECT")
    finally:
        os.close(fd)
    written: list[tuple[int, bool]] = []
    real_write = os.write

    def spy(fd: int, data: memoryview) -> int:
        written.append((len(data), bool(_flags(fd) & os.O_DIRECT)))
        return real_write(fd, data)

    monkeypatch.setattr(direct.os, "write", spy)
    out = _write_in_blocks(tmp_path / "out", data, ALIGN * 16)
    assert (tmp_path / "out").read_bytes() == data
    assert written[:3] == [(ALIGN * 16, True)] * 3
    assert written[3:] == [(1234, False)] and not out.direct


def test_a_write_the_file_system_refuses_is_written_the_ordinary_way(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    refused = []

    def refuse_direct(fd: int, data: memoryview) -> int:
        if _flags(fd) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(direct.os, "write", refuse_direct)
    data = _pattern(5 * ALIGN * 8)
    out = _write_in_blocks(tmp_path / "out", data, ALIGN * 8)
    assert (tmp_path / "out").read_bytes() == data and not out.direct
    assert len(refused) <= 1  # refused once at most, then never asked again


def test_no_direct_writes_where_the_file_system_refuses_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl

    real_fcntl = fcntl.fcntl

    def no_direct(fd: int, cmd: int, arg: int = 0) -> int:
        if cmd == fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, cmd, arg)

    asked = []
    monkeypatch.setattr(fcntl, "fcntl", lambda fd, cmd, arg=0: asked.append(cmd) or no_direct(fd, cmd, arg))
    data = _pattern(3 * ALIGN * 8 + 17)
    out = _write_in_blocks(tmp_path / "out", data, ALIGN * 8)
    assert (tmp_path / "out").read_bytes() == data and not out.direct
    assert asked.count(fcntl.F_SETFL) == 1  # refused once, not asked again for the next blocks


def test_no_direct_writes_from_an_offset_off_the_alignment(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        os.write(fd, b"x" * 100)
        assert not StreamOut(fd, offset=100).go_direct()
    finally:
        os.close(fd)


@pytest.mark.parametrize("size", [DIRECT_MIN, DIRECT_MIN + 3 * ALIGN + 5, DIRECT_MIN - 1])
def test_a_big_copy_holds_its_source_and_its_md5(tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    source, copy = tmp_path / "source", tmp_path / "copy"
    data = _pattern(size)
    source.write_bytes(data)
    os.utime(source, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    asked = []
    real_go_direct = StreamOut.go_direct
    monkeypatch.setattr(StreamOut, "go_direct", lambda self: asked.append(1) or real_go_direct(self))
    assert copy_with_md5(str(source), str(copy)) == (hashlib.md5(data).hexdigest(), size)
    assert asked == ([1] if size >= DIRECT_MIN else [])  # only a big file is worth waiting for the disk
    assert copy.read_bytes() == data
    assert copy.stat().st_mtime_ns == 1_700_000_000_123_456_789


def test_a_buffer_filled_in_a_forked_process_stays_empty_in_this_one() -> None:
    buffer = aligned_buffer(ALIGN)  # as a thread's read buffer is, when a hashing helper is forked
    pid = os.fork()
    if pid == 0:
        buffer[:4] = b"kid!"
        os._exit(0)
    os.waitpid(pid, 0)
    assert buffer[:4] == bytes(4)


def test_no_direct_writes_when_the_environment_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA2PACK_NO_DIRECT_IO", "1")
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT)
    try:
        out = StreamOut(fd)
        assert not out.go_direct() and not _flags(fd) & os.O_DIRECT
        monkeypatch.setenv("QA2PACK_NO_DIRECT_IO", "")
        assert out.go_direct() == bool(_flags(fd) & os.O_DIRECT)
    finally:
        os.close(fd)
