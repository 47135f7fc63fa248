"""A manifest's rows and the md5 of its files in runs, with nothing but the core loaded.

The child that hashes a package ahead of its verify (:mod:`qa2pack.delivery.ahead`) starts from
this module alone: every module it does not load lets it start hashing sooner, while the verify
itself is still loading.  The manifest's other uses (:mod:`.manifest`) build on it.
"""

from __future__ import annotations

import os
import sys
from itertools import chain, islice

from ..core.child import check_run, serve
from .direct import aligned_buffer
from .fields import unescape_field

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.delivery.ahead)
if TYPE_CHECKING:
    import hashlib
    import mmap
    import threading
    from collections.abc import Callable, Iterable, Iterator

CHUNK = 1 << 20
MANIFEST_MAGIC = "# qa2pack manifest 1"
MANIFEST_SUFFIX = ".manifest.tsv"  # the manifest of a package lies beside it: <package name>.manifest.tsv


def manifest_file(packpath: str) -> str:
    """Return where the manifest of a package folder lives: beside it (``packpath`` named as the run names it)."""
    head, name = os.path.split(packpath)
    return os.path.join(head, name + MANIFEST_SUFFIX)


def new_md5() -> hashlib._Hash:
    """Return an md5 object (md5 is a fixity check here, not security)."""
    import hashlib  # here: loading OpenSSL costs a hard-link package more than its links to one folder

    if sys.version_info >= (3, 9):
        return hashlib.md5(usedforsecurity=False)
    return hashlib.md5()  # noqa: S324 (Python 3.8: a fixity check, as above)


_buffers: threading.local | None = None  # each thread's read buffer


def read_buffer() -> tuple[mmap.mmap, memoryview]:
    """Return the calling thread's 1 MiB read buffer, page-aligned for direct writes.

    Made once per thread: zeroing one costs more than hashing a small file.
    """
    global _buffers
    if _buffers is None:  # two threads may both make one: a buffer is made again, nothing worse
        import threading

        _buffers = threading.local()
    found: tuple[mmap.mmap, memoryview] | None = getattr(_buffers, "buffer", None)
    if found is None:
        buf = aligned_buffer(CHUNK)
        found = _buffers.buffer = (buf, memoryview(buf))
    return found


def md5_of_fd(fd: int) -> tuple[str, int]:
    """Return (md5, bytes read) of an open file, read to its end through this thread's buffer."""
    digest = new_md5()
    buf, view = read_buffer()
    read = 0
    while n := os.readv(fd, (buf,)):
        digest.update(view[:n])
        read += n
    return digest.hexdigest(), read


def md5_and_size(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return (md5, bytes read) of a file: its size when read, with no stat."""
    # os.open, not open(): a file object costs more than hashing a small file
    fd = os.open(path, os.O_RDONLY)
    try:
        return md5_of_fd(fd)
    finally:
        os.close(fd)


# -- reading a manifest's rows (qa2pack's errors are loaded only when one is raised) -----------

def _refused(message: str) -> Exception:
    from ..core.errors import InputError

    return InputError(message)


def manifest_bytes(path: str | os.PathLike[str]) -> bytes:
    """Return a manifest's bytes; one line says why it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise _refused(f"cannot read manifest {path}: {exc.strerror}") from None


def read_lines(path: str | os.PathLike[str], data: bytes) -> list[str]:
    """Return the lines after the first of a manifest's bytes, or refuse what is no manifest."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refused(f"{path} is not a qa2pack manifest (it is not UTF-8 text)") from None
    if not text.startswith(MANIFEST_MAGIC):
        raise _refused(f"{path} is not a qa2pack manifest")
    return text.splitlines()[1:]


def manifest_rows(path: str | os.PathLike[str], lines: Iterable[str],
                  meta: dict[str, str]) -> Iterator[tuple[str, int, str | None]]:
    """Yield each row of a manifest's lines as (path, size, md5 or None); facts go to ``meta``, other lines nowhere."""
    for line in lines:
        if line.startswith("# "):
            key, sep, value = line[2:].partition(": ")
            if sep:
                meta[key] = value
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        md5, size, rel = parts
        try:
            nbytes = int(size)
        except ValueError:
            raise _refused(f"{path} is not a qa2pack manifest: the size in {line!r} is not a number") from None
        yield unescape_field(rel), nbytes, None if md5 == "-" else md5


def to_hash(rel: str, md5: str | None) -> bool:
    """Tell whether a manifest's file is hashed: it has an md5, and its path leads nowhere outside the package.

    A path that would lead outside root (absolute, or through ``..``) is never read.
    """
    return bool(md5) and rel[:1] != "/" and (".." not in rel or ".." not in rel.split("/"))


# -- runs of files ----------------------------------------------------------------------------

RUN_FILES = 256
RUN_BYTES = 32 << 20
RUNS_PER_WORKER = 8


def files_per_run(files: int, workers: int) -> int:
    """Return the files in a run: a few runs per worker, at most ``RUN_FILES``."""
    return min(RUN_FILES, max(1, files // (RUNS_PER_WORKER * max(1, workers))))


def split_runs(files: Iterable[tuple[str, str, int]], size: int) -> Iterator[list[tuple[str, str]]]:
    """Yield runs of ``size`` (key, path) pairs from (key, path, bytes), each ended early by the file that fills 32 MB."""
    run: list[tuple[str, str]] = []
    filled = 0
    for key, path, nbytes in files:
        run.append((key, path))
        filled += nbytes
        if len(run) == size or filled >= RUN_BYTES:
            yield run
            run, filled = [], 0
    if run:
        yield run


def key_of_runs(data_hash: int, root: str, workers: int) -> str:
    """Return the key of the runs a manifest's files are hashed in: ``hash`` of its bytes, root and the workers."""
    return f"{hash((data_hash, root, workers)):x}"


def runs_reading(path: str | os.PathLike[str], root: str, workers: int) -> tuple[str, Iterator[list[tuple[str, str]]]]:
    """Return the key of a manifest's runs and the runs, made while its rows are read.

    The first run is ready once the rows that decide the run length are read (a few thousand
    at most), not the whole manifest: a child hashing ahead of a verify starts sooner.
    """
    data = manifest_bytes(path)
    files = ((rel, f"{root}/{rel}", size) for rel, size, md5 in manifest_rows(path, read_lines(path, data), {})
             if to_hash(rel, md5))
    enough = RUN_FILES * RUNS_PER_WORKER * max(1, workers)  # from this many files on, runs are the longest
    first = list(islice(files, enough))
    return key_of_runs(hash(data), root, workers), split_runs(chain(first, files), files_per_run(len(first), workers))


def hash_job(hash_one: Callable[[str], tuple[str, int]], chunk: list[tuple[str, str]],
             run: int) -> tuple[int, bool, bytes]:
    """Hash one run of files (in a child); stop at the first that fails."""
    check_run(run)
    lines: list[str] = []
    for done, (_, path) in enumerate(chunk):
        try:
            md5, size = hash_one(path)
        except Exception:  # noqa: BLE001 - the run hashes it again and reports the error
            return done, False, "".join(lines).encode()
        lines.append(f"{md5} {size}\n")
    return len(chunk), True, "".join(lines).encode()


def serve_hashes(runs: Iterable[list[tuple[str, str]]], out: int, run: int) -> None:
    """Hash runs of files and report each on the pipe ``out``, as the helper of a verify's hashing does.

    For a child that begins before the run that adopts it as that helper.
    """
    serve(runs, lambda chunk, run: hash_job(md5_and_size, chunk, run), out, run)
