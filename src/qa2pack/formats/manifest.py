"""Checksums and the package manifest.

md5 is what the archive uses; it is computed while copying (one read per file), or in a
separate pass only when asked for.  The manifest is a small TSV file beside packpath:
``md5<TAB>size<TAB>path`` with ``-`` for an md5 that was not computed.
"""

from __future__ import annotations

import os
import queue
import shutil
import threading
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from functools import partial
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, List, NamedTuple, Optional, Tuple

from ..core.errors import InputError
from ..core.forked import Helper, Report
from ..core.leftovers import leave
from ..core.record import field, record
from .atomic import write_atomic
from .direct import DIRECT_MIN, StreamOut, aligned_buffer
from .fields import escape_field, escape_fields
from .md5runs import (
    MANIFEST_MAGIC,
    files_per_run,
    hash_job,
    key_of_runs,
    manifest_bytes,
    manifest_file,
    manifest_rows,
    md5_and_size,
    md5_of_fd,
    new_md5,
    read_buffer,
    read_lines,
    split_runs,
    to_hash,
)

if TYPE_CHECKING:
    import hashlib

    from typing_extensions import TypeAlias

    # Returns the helper for these runs of files if a child already hashes them, else None.
    Adopt: TypeAlias = Callable[[List[List[Tuple[str, str]]]], Optional[Helper[List[Tuple[str, str]]]]]


def md5_file(path: str | Path) -> str:
    """Return the md5 of a file, read in 1 MiB chunks."""
    return md5_and_size(path)[0]


class SourceChanged(Exception):
    """A file's size or modification time changed while it was read (or it vanished)."""

    def __init__(self, path: str, what: str = "changed") -> None:
        super().__init__(f"{path} {what} while it was read")
        self.path = path
        self.what = what


def _unchanged(before: os.stat_result, after: os.stat_result, read: int) -> bool:
    return (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) == (read, after.st_mtime_ns)


def copy_with_md5(src: str, dst: str) -> tuple[str, int]:
    """Copy ``src`` to a new file ``dst`` (never overwriting), keep its times; return (md5, size).

    A source whose size or modification time changes while it is read raises
    :class:`SourceChanged` and leaves no ``dst``: the copy would not be any one version of it.
    A big file is written past the page cache where the system allows it (:mod:`.direct`).
    """
    digest = new_md5()
    buf, view = read_buffer()
    read = 0
    with open(src, "rb", buffering=0) as fin, open(dst, "xb", buffering=0) as fout:
        before = os.fstat(fin.fileno())
        out = StreamOut(fout.fileno())
        if before.st_size >= DIRECT_MIN:
            out.go_direct()
        while n := fin.readinto(buf):
            chunk = view[:n]
            digest.update(chunk)
            out.write(chunk)
            read += n
        after = os.fstat(fin.fileno())
    if not _unchanged(before, after, read):
        os.unlink(dst)
        raise SourceChanged(src)
    shutil.copystat(src, dst)
    return digest.hexdigest(), read


def stable_md5(path: str) -> tuple[str, int]:
    """Return (md5, size) of a file read once, raising :class:`SourceChanged` if it changed meanwhile."""
    fd = os.open(path, os.O_RDONLY)
    try:
        before = os.fstat(fd)
        md5, read = md5_of_fd(fd)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not _unchanged(before, after, read):
        raise SourceChanged(path)
    return md5, read


class _HandleOut:
    """A file object with no descriptor of its own (tests, wrapped streams), written as it asks."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle

    def go_direct(self) -> bool:
        return False

    def write(self, data: memoryview) -> None:
        self._handle.write(bytes(data))  # a copy: the block is filled again once this returns


def _stream_of(handle: IO[bytes]) -> StreamOut | _HandleOut:
    """Write to the descriptor under ``handle`` where there is one (past its buffer, which is flushed first)."""
    try:
        fd = handle.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError and a ValueError
        return _HandleOut(handle)
    handle.flush()
    return StreamOut(fd, os.lseek(fd, 0, os.SEEK_CUR))


class HashingWriter:
    """A write-only file object that md5-sums what passes through it (tar parts, archives).

    Three stages run at once on a few page-aligned blocks of memory: the caller fills a block
    (:meth:`write` copies small pieces in, :meth:`read_from` reads a file straight into it), one
    thread hashes each full block (hashlib releases the GIL on large buffers) and one writes it,
    past the page cache where it can (:mod:`.direct`), then hands it back to be filled again.
    The bytes written are the bytes hashed, and at most 64 MiB are in flight.  Use it as a
    context manager: closing finishes both threads and raises any error of the writing one.
    """

    _BLOCK = 4 << 20
    _BLOCKS = 16

    def __init__(self, handle: IO[bytes]) -> None:
        self._out = _stream_of(handle)
        self._digest = new_md5()
        self.size = 0
        self._error: BaseException | None = None
        self._free: queue.Queue[memoryview] = queue.Queue()
        self._made = 0
        self._block = self._take()
        self._fill = 0
        self._hash_queue: queue.Queue[tuple[memoryview, int] | None] = queue.Queue()
        self._write_queue: queue.Queue[tuple[memoryview, int] | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._hash, name="qa2pack-md5", daemon=True),
                         threading.Thread(target=self._write, name="qa2pack-write", daemon=True)]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def _take(self) -> memoryview:
        """Return an empty block: a free one, a new one while fewer than the most exist, else the next freed."""
        if self._made < self._BLOCKS and self._free.empty():
            self._made += 1
            return memoryview(aligned_buffer(self._BLOCK))
        return self._free.get()

    def _hash(self) -> None:
        while (item := self._hash_queue.get()) is not None:
            block, filled = item
            self._digest.update(block[:filled])
            self._write_queue.put(item)
        self._write_queue.put(None)

    def _write(self) -> None:
        while (item := self._write_queue.get()) is not None:
            block, filled = item
            if self._error is None:
                try:
                    if filled == self._BLOCK:
                        self._out.go_direct()
                    self._out.write(block[:filled])
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc
            self._free.put(block)  # after a failed write too: the caller may be waiting for it

    def _send(self, last: bool = False) -> None:
        if self._error is not None:
            raise self._error
        self._hash_queue.put((self._block, self._fill))
        if not last:
            self._block, self._fill = self._take(), 0

    def write(self, data: bytes) -> int:
        """Copy ``data`` into the blocks (the caller may reuse its buffer as soon as this returns)."""
        view = memoryview(data).cast("B")
        size = len(view)
        self.size += size
        end = self._fill + size
        if end < self._BLOCK:  # nearly always (a tar header, padding): one copy, no loop
            self._block[self._fill:end] = view
            self._fill = end
            return size
        done = 0
        while done < size:
            take = min(self._BLOCK - self._fill, size - done)
            self._block[self._fill:self._fill + take] = view[done:done + take]
            self._fill += take
            done += take
            if self._fill == self._BLOCK:
                self._send()
        return size

    def read_from(self, fd: int, size: int, before: bytes = b"", after: bytes = b"") -> int:
        """Read up to ``size`` bytes of an open file straight into the blocks; return how many (fewer: it ended).

        ``before`` is written first and ``after`` once all ``size`` bytes are in (a tar member's
        header and padding): a small file then costs one call and one read, not three calls.
        """
        start = self._fill
        data = start + len(before)
        end = data + size + len(after)
        if end < self._BLOCK:  # a small file: all of it fits in this block
            block = self._block
            block[start:data] = before
            read = os.readv(fd, (block[data:data + size],)) if size else 0
            if read == size:
                block[data + size:end] = after
                self._fill = end
                self.size += end - start
                return size
            self._fill = data + read
            self.size += data + read - start
            if not read:
                return 0  # it ended first: the caller refuses a file shorter than listed
            return read + self.read_from(fd, size - read, after=after)  # a short read: the rest as usual
        if before:
            self.write(before)
        done = 0
        while done < size:
            read = os.readv(fd, (self._block[self._fill:self._fill + min(self._BLOCK - self._fill, size - done)],))
            if not read:
                break
            self._fill += read
            self.size += read
            done += read
            if self._fill == self._BLOCK:
                self._send()
        if after and done == size:
            self.write(after)
        return done

    def flush(self) -> None:
        """Nothing to do before :meth:`close` (the writing thread owns the file)."""

    def tell(self) -> int:
        """Return the number of bytes taken so far (tarfile asks)."""
        return self.size

    def close(self) -> None:
        """Finish hashing and writing; raise the writing thread's error, if any."""
        if not self._closed:
            self._closed = True
            try:
                if self._fill:
                    self._send(last=True)
            finally:
                self._hash_queue.put(None)
                for thread in self._threads:
                    thread.join()
        if self._error is not None:
            raise self._error

    @property
    def digest(self) -> hashlib._Hash:
        """The md5 of everything written (complete once closed)."""
        self.close()
        return self._digest

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def md5sum_line(md5: str, name: str) -> str:
    """Return one line in ``md5sum`` output format (with its escaping for odd names)."""
    if "\\" in name or "\n" in name:
        return "\\" + md5 + "  " + name.replace("\\", "\\\\").replace("\n", "\\n") + "\n"
    return f"{md5}  {name}\n"


def parse_md5sum(text: str) -> dict[str, str]:
    """Read ``md5sum`` output back into {name: md5}."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        if escaped:
            line = line[1:]
        md5, _, name = line.partition("  ")
        if escaped:
            name = name.replace("\\n", "\n").replace("\\\\", "\\")
        out[name.lstrip("*")] = md5
    return out


@record(frozen=False)
class Manifest:
    """Every delivered file: path -> (size, md5 or None), plus a few facts about the run."""

    entries: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    rows: int = 0  # the rows read: more than the entries where a path is listed twice (the last row counts)
    data_hash: int = 0  # hash() of the bytes read: the same in a process forked from this one (see runs_key)


def manifest_path(packpath: Path) -> Path:
    """Return where the manifest of a package lives (beside it)."""
    return Path(manifest_file(os.fspath(packpath)))


Row = Tuple[str, int, Optional[str]]  # (package-relative path, size, md5 or None)


class Unhashed(NamedTuple):
    """The files of one folder, none of them hashed, in name order: written as one block of lines."""

    folder: str
    files: Sequence[tuple[str, int]]  # (name, size)


def write_manifest(path: Path, entries: Mapping[str, tuple[int, str | None]] | Iterable[Row | Unhashed],
                   meta: Mapping[str, str]) -> None:
    """Write the manifest atomically (temporary name, then rename).

    ``entries`` maps paths to (size, md5), or is rows and folder blocks already in path order,
    written as they come: a package of many files is never held as one text, and a folder
    linked as planned costs no row per file.
    """
    rows: Iterable[Row | Unhashed]
    if isinstance(entries, Mapping):
        mapping = entries
        rows = ((rel, *mapping[rel]) for rel in sorted(mapping))
    else:
        rows = entries
    head = [MANIFEST_MAGIC + "\n", *(f"# {key}: {value}\n" for key, value in meta.items()),
            "# md5<TAB>size<TAB>path; md5 '-' means not computed in this mode\n"]
    write_atomic(path, chain(["".join(head)], _manifest_lines(rows)))


def _manifest_lines(items: Iterable[Row | Unhashed], batch: int = 4096) -> Iterator[str]:
    rows: list[Row] = []
    for item in items:
        if isinstance(item, Unhashed):
            if rows:
                yield _row_lines(rows)
                rows = []
            yield _unhashed_lines(item)
            continue
        rows.append(item)
        if len(rows) == batch:
            yield _row_lines(rows)
            rows = []
    if rows:
        yield _row_lines(rows)


def _row_lines(rows: list[Row]) -> str:
    paths = escape_fields([rel for rel, _, _ in rows])
    return "".join(f"{md5 or '-'}\t{size}\t{text}\n" for text, (_, size, md5) in zip(paths, rows))


def _unhashed_lines(block: Unhashed) -> str:
    folder = escape_field(block.folder)
    names = escape_fields([name for name, _ in block.files])
    return "".join([f"-\t{size}\t{folder}/{name}\n" for name, (_, size) in zip(names, block.files)])


def read_manifest_meta(path: Path) -> dict[str, str]:
    """Return the facts in a manifest's header (mode, package, ...), reading no further than the header."""
    meta: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.readline().rstrip("\n") != MANIFEST_MAGIC:
                raise InputError(f"{path} is not a qa2pack manifest")
            for line in handle:
                if not line.startswith("# "):
                    break
                key, sep, value = line[2:].rstrip("\n").partition(": ")
                if sep:
                    meta[key] = value
    except OSError as exc:
        raise InputError(f"cannot read manifest {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a qa2pack manifest (it is not UTF-8 text)") from None
    return meta


def read_manifest(path: Path) -> Manifest:
    """Read a manifest written by :func:`write_manifest`."""
    data = manifest_bytes(path)
    manifest = Manifest(data_hash=hash(data))
    entries = manifest.entries
    rows = 0
    for rel, size, md5 in manifest_rows(path, read_lines(path, data), manifest.meta):
        entries[rel] = (size, md5)
        rows += 1
    manifest.rows = rows
    return manifest


def files_to_hash(manifest: Manifest, root: str) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Return the files of a manifest that have an md5, with their sizes, and their (key, path) pairs below root."""
    listed = {rel: size for rel, (size, md5) in manifest.entries.items() if to_hash(rel, md5)}
    return listed, [(rel, f"{root}/{rel}") for rel in listed]


def hash_runs(pairs: list[tuple[str, str]], workers: int,
              sizes: Mapping[str, int] | None = None) -> list[list[tuple[str, str]]]:
    """Split the files into runs for the threads: a task per file costs more than hashing a small one.

    With the sizes known, a run also ends at 32 MB, so that big files are shared out as well
    and no thread is left hashing a run of them at the end.
    """
    known = sizes or {}
    return list(split_runs(((key, path, known.get(key, 0)) for key, path in pairs), files_per_run(len(pairs), workers)))


def _hash_in_chunks(paths: Iterable[tuple[str, str]], workers: int, hash_one: Callable[[str], tuple[str, int]],
                    advance: Callable[[int, int], None] | None = None,
                    sizes: Mapping[str, int] | None = None,
                    meanwhile: Callable[[], Container[str] | None] | None = None,
                    adopt: Adopt | None = None) -> dict[str, tuple[str, int]]:
    """Return {key: hash_one(path)}, runs of files on ``workers`` threads (I/O and md5 release the GIL).

    Progress is told once per run of files, not per file.
    """
    from concurrent.futures import ThreadPoolExecutor

    pairs = list(paths)
    chunks = hash_runs(pairs, workers, sizes)
    if forks_helper(len(pairs), workers):
        results = _hash_with_helper(chunks, hash_one, advance, meanwhile, adopt)
    else:
        wanted = meanwhile() if meanwhile is not None else None
        results = {}
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for done in pool.map(partial(_hash_run, hash_one, advance, wanted), chunks):
                results.update(done)
    leave(pairs, chunks)
    return results


def _hash_run(hash_one: Callable[[str], tuple[str, int]], advance: Callable[[int, int], None] | None,
              wanted: Container[str] | None, chunk: list[tuple[str, str]]) -> list[tuple[str, tuple[str, int]]]:
    """Hash one run of files (those ``wanted``, if it is given) and tell the progress once."""
    done = [(key, hash_one(path)) for key, path in chunk if wanted is None or key in wanted]
    if advance is not None:
        advance(len(done), sum(size for _, (_, size) in done))
    return done


HELPER_FILES = 1024  # files to hash from which a forked helper hashes too, from the other end (core/forked.py)


def forks_helper(files: int, workers: int) -> bool:
    """Tell whether hashing this many files on this many workers forks a helper (else only threads hash)."""
    return workers > 1 and files >= HELPER_FILES and hasattr(os, "fork")


def _hash_with_helper(chunks: list[list[tuple[str, str]]], hash_one: Callable[[str], tuple[str, int]],
                      advance: Callable[[int, int], None] | None,
                      meanwhile: Callable[[], Container[str] | None] | None = None,
                      adopt: Adopt | None = None) -> dict[str, tuple[str, int]]:
    """Hash the runs of files from both ends: a forked helper from the first, this process from the last.

    The helper is the child ``adopt`` returns for these runs (one that began before this run
    did), or else one forked now.  This process first does ``meanwhile`` (work that needs no
    hash), so the helper's share grows by what that costs.  The last run left is the one the
    helper is on: this process waits for it rather than hash it too (a run of big files costs
    seconds).  Then the helper is stopped; what it did not finish (it stopped at an error, or
    died) is hashed here, so an error reads as it would without it.  Hashing only reads: a run
    hashed twice, or a helper killed in the middle of one, costs time only.
    """
    new_md5()  # load OpenSSL's md5 before the fork, not in the helper too
    helper = adopt(chunks) if adopt is not None else None
    if helper is None:
        helper = Helper(chunks, partial(hash_job, hash_one))
    results: dict[str, tuple[str, int]] = {}
    wanted: Container[str] | None = None
    back = len(chunks)  # this process has hashed the runs from here on

    def take(reports: list[Report]) -> None:
        for report in reports:
            if report.job >= back:  # hashed here already
                continue
            chunk = helper.jobs[report.job]
            hashes = [(md5, int(size)) for md5, size in (line.split(" ") for line in report.payload.decode().splitlines())]
            kept = [(key, found) for (key, _), found in zip(chunk, hashes) if wanted is None or key in wanted]
            results.update(kept)
            if advance is not None:
                advance(len(kept), sum(size for _, (_, size) in kept))

    try:
        wanted = meanwhile() if meanwhile is not None else None
        take(helper.poll())
        while back > len(helper.finished) and helper.stopped is None:
            if back - 1 == len(helper.finished) and not helper.gone:  # the helper is on the one run left
                take(helper.next_reports())  # wait for it: hashing it here too would only double it
                continue
            back -= 1
            results.update(_hash_run(hash_one, advance, wanted, chunks[back]))
            take(helper.poll())
    finally:
        helper.kill()  # its finished runs are taken; whatever it is on, this process has or will hash
    stopped = helper.stopped
    for index in range(len(helper.finished), back):
        chunk = chunks[index][stopped.done:] if stopped is not None and stopped.job == index else chunks[index]
        results.update(_hash_run(hash_one, advance, wanted, chunk))
    return results


def runs_key(manifest: Manifest, root: str, workers: int) -> str | None:
    """Return the key of the runs this manifest's files are hashed in below root, as :func:`~.md5runs.runs_reading` makes it.

    The runs are a function of the manifest's bytes, root and the workers, so equal keys mean
    equal runs.  The key holds within a process and those forked from it (``hash`` of bytes is
    salted per process).  None where a path is listed twice: the runs read row by row differ.
    """
    if manifest.rows != len(manifest.entries):
        return None
    return key_of_runs(manifest.data_hash, root, workers)


def hash_files_steady(paths: Iterable[tuple[str, str]], workers: int = 2) -> dict[str, tuple[str, int]]:
    """Return {key: (md5, size)}; a file that changed while read is read once more, then :class:`SourceChanged`."""

    def one(path: str) -> tuple[str, int]:
        try:
            return stable_md5(path)
        except SourceChanged:
            return stable_md5(path)

    return _hash_in_chunks(paths, workers, one)


def hash_files(paths: Iterable[tuple[str, str]], workers: int = 2, advance: Callable[[int, int], None] | None = None,
               sizes: Mapping[str, int] | None = None,
               meanwhile: Callable[[], Container[str] | None] | None = None) -> dict[str, str]:
    """Return {key: md5} for (key, path) pairs, hashing on ``workers`` threads (``sizes`` by key, if known).

    ``meanwhile`` runs while the hashing starts and may narrow it down to the keys it returns.
    """
    hashed = hash_files_with_sizes(paths, workers, advance, sizes, meanwhile)
    return {key: md5 for key, (md5, _) in hashed.items()}


def hash_files_with_sizes(paths: Iterable[tuple[str, str]], workers: int = 2,
                          advance: Callable[[int, int], None] | None = None, sizes: Mapping[str, int] | None = None,
                          meanwhile: Callable[[], Container[str] | None] | None = None,
                          adopt: Adopt | None = None) -> dict[str, tuple[str, int]]:
    """Like :func:`hash_files`, with the number of bytes each hash read: the size the file had, with no stat.

    ``adopt(runs)`` may return a child that already hashes these runs (:func:`~.md5runs.serve_hashes`) to be the helper.
    """
    return _hash_in_chunks(paths, workers, md5_and_size, advance, sizes, meanwhile, adopt)
