"""Split a package into delivery tar files, without a shell.

Planning is pure: every entry's header size is what ``tarfile`` writes (512-byte headers, PAX
headers for long or non-ASCII names, data padding, the two end blocks and the padding to a
10240-byte record), so the part an entry goes in is known exactly as soon as it is listed.
Writing streams each file once, starting with the first folder listed; the md5 of the tar is
computed on the way and written as a ``md5sum``-format sidecar.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Container, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import groupby
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple
from zlib import adler32

from ..core.child import open_folder
from ..core.errors import ExecutionError, InputError, LockBusyError, UsageError, note_writing
from ..core.naming import matcher, named_folder
from ..core.record import field, record, replace
from ..formats.atomic import write_atomic
from ..formats.manifest import HashingWriter, SourceChanged, manifest_path, md5sum_line, read_manifest_meta
from ..run.lock import RunLock, Want, writer_holding
from ..run.progress import Progress, SilentProgress
from .layout import (
    AUXILIARY_PATTERNS,
    MARKER,
    README_NAME,
    archive_recognises,
    auxiliary_name,
    is_project_code,
    list_groups,
    part_name,
    science_goals,
)
from .uids import DEFAULT_NAMING, DeliveryNaming, name_folders

if TYPE_CHECKING:
    import tarfile

log = logging.getLogger(__name__)

# tarfile's own values, written out: importing tarfile costs a run more than these lines
BLOCK = 512  # tarfile.BLOCKSIZE
RECORD = 20 * BLOCK  # tarfile.RECORDSIZE
TAR_FORMAT: Final = 2  # tarfile.PAX_FORMAT
_POSIX_MAGIC = b"ustar\x0000"  # tarfile.POSIX_MAGIC
_REGTYPE, _DIRTYPE, _XHDTYPE = b"0", b"5", b"x"  # tarfile.REGTYPE, DIRTYPE, XHDTYPE
ENCODING = "utf-8"
ERRORS = "surrogateescape"
DEFAULT_MAX_SIZE = 50 * 10**9

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]i?[bB]?|[bB])?\s*$")
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40}


def parse_size(text: str) -> int:
    """Return bytes for ``50GB`` (decimal), ``50GiB`` (binary), ``500MB`` or a plain number."""
    match = _SIZE_RE.match(text)
    if not match:
        raise UsageError(f"not a size: {text!r} (examples: 50GB, 500MB, 2GiB, 1000000)")
    unit = (match.group(2) or "").lower().rstrip("b")
    value = int(float(match.group(1)) * _UNITS[unit])
    if value < RECORD:
        raise UsageError(f"size limit {text} is below one tar record ({RECORD} bytes)")
    return value


class TarEntry(NamedTuple):
    """One tar member: its name in the tar, its data size and the exact bytes of its header."""

    name: str  # e.g. 2011.0.00229.S/sg_ouss_id/...; folders without a trailing slash
    size: int
    header: int
    is_dir: bool
    mode: int = 0o644
    mtime: int = 0
    source: str = ""  # the file to read (empty for folders)
    mtime_ns: int | None = None  # the modification time listed, to the nanosecond (None: whole seconds only)

    @property
    def nbytes(self) -> int:
        """Bytes this entry takes in a tar: header plus data padded to 512."""
        return self.header + -(-self.size // BLOCK) * BLOCK


def tar_bytes(entries: Iterable[TarEntry]) -> int:
    """Return the exact size of a tar holding ``entries`` (end blocks and record padding included)."""
    return _closed_size(sum(e.nbytes for e in entries))


def _closed_size(body: int) -> int:
    """Return the size of a tar whose headers and data take ``body`` bytes: plus the end blocks, in whole records."""
    return -(-(body + 2 * BLOCK) // RECORD) * RECORD


def make_tarinfo(entry: TarEntry) -> tarfile.TarInfo:
    """Return the TarInfo written for an entry: a plain file or folder, owner 0, whole-second mtime."""
    import tarfile

    info = tarfile.TarInfo(entry.name)
    info.type = tarfile.DIRTYPE if entry.is_dir else tarfile.REGTYPE
    info.size = 0 if entry.is_dir else entry.size
    info.mode = entry.mode
    info.mtime = entry.mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


_USTAR_NAME = 100
_USTAR_NUMBER = 8**11  # size and mtime fit 11 octal digits


@lru_cache(maxsize=None)
def _pax_record_length(keyword: str, value_length: int) -> int:
    """Return the length of a PAX record ``<len> <keyword>=<value>``, whose length counts its own digits."""
    base = len(keyword) + value_length + 3
    length = previous = 0
    while True:
        length = base + len(str(previous))
        if length == previous:
            return length
        previous = length


def _plain_ustar(name: str, size: int, mtime: int) -> bool:
    """Tell whether tarfile needs no PAX record but perhaps the path (ASCII name, numbers in 11 octal digits)."""
    return name.isascii() and size < _USTAR_NUMBER and 0 <= mtime < _USTAR_NUMBER


def header_size(name: str, size: int, is_dir: bool, mode: int = 0o644, mtime: int = 0) -> int:
    """Return the bytes ``tarfile`` writes as header(s) for such an entry.

    ASCII names with ordinary numbers are counted: one 512-byte block, after a PAX header with
    the whole path for names over 100 characters.  Anything else (non-ASCII names, files of
    8 GiB and more) is measured by rendering the header.
    """
    if _plain_ustar(name, size, mtime):
        length = len(name) + is_dir  # tarfile writes folders with a trailing slash
        if length <= _USTAR_NAME:
            return BLOCK
        # A long name: a PAX extended header (its own header block plus one "path" record) first.
        return BLOCK + -(-_pax_record_length("path", length) // BLOCK) * BLOCK + BLOCK
    probe = TarEntry(name, size, 0, is_dir, mode, mtime)
    return len(make_tarinfo(probe).tobuf(TAR_FORMAT, ENCODING, ERRORS))


def ustar_header(entry: TarEntry) -> bytes:
    """Return the header block(s) ``tarfile`` writes for an entry, built directly when it can be.

    An ASCII name with ordinary numbers takes one ustar block, preceded for a name over 100
    characters by a PAX header holding the whole path; both are assembled here (``tarfile``
    takes tens of microseconds per header, which on thousands of small table files kept the
    hashing waiting).  Anything else is rendered by ``tarfile`` itself.
    """
    name = entry.name + "/" if entry.is_dir else entry.name
    size = 0 if entry.is_dir else entry.size
    if not _plain_ustar(name, size, entry.mtime):
        return make_tarinfo(entry).tobuf(TAR_FORMAT, ENCODING, ERRORS)
    encoded = name.encode("ascii")
    block = _ustar_block(encoded[:_USTAR_NAME], entry.mode & 0o7777, size, entry.mtime,
                         _DIRTYPE if entry.is_dir else _REGTYPE)
    if len(encoded) <= _USTAR_NAME:
        return block
    record = b"%d path=%s\n" % (_pax_record_length("path", len(encoded)), encoded)
    return b"".join((_pax_block(len(record)), record, _ZEROS[:-len(record) % BLOCK], block))


def _ustar_block(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes) -> bytes:
    """One ustar header block as ``tarfile`` writes it (owner 0, no user or group names).

    As tarfile: the checksum counts its own field as spaces and is six digits, NUL, space.  It is
    the sum of the name and the numbers; the rest of the block is the same in every header.
    """
    numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, 0, 0, size, mtime)
    # The sum of the name's and the numbers' bytes, in C: Adler-32's first half starts at 1 and adds
    # every byte modulo 65521, and these 148 bytes sum to at most 37,740: it is one more than their sum.
    checksum = (adler32(numbers, adler32(name)) & 0xFFFF) - 1 + typeflag[0] + _CONSTANT_SUM
    return b"".join((name, _ZEROS[len(name):_USTAR_NAME], numbers, b"%06o\0 " % checksum, typeflag, _TAIL))


_ZEROS = bytes(BLOCK)
_TAIL = bytes(100) + _POSIX_MAGIC + bytes(BLOCK - 265)  # link name, magic and version, empty owner fields
_CONSTANT_SUM = 8 * ord(" ") + sum(_POSIX_MAGIC)  # the checksum field as spaces, the magic


@lru_cache(maxsize=None)
def _pax_block(record_length: int) -> bytes:
    """Return the header block before a PAX record of this length (it holds nothing else of the entry)."""
    return _ustar_block(b"././@PaxHeader", 0, record_length, 0, _XHDTYPE)


def split_into_parts(entries: Iterable[TarEntry], limit: int) -> list[list[TarEntry]]:
    """Pack entries (in order, parents before children) into parts of at most ``limit`` bytes (see :func:`iter_parts`)."""
    parts: list[list[TarEntry]] = []
    for number, entry in iter_parts(entries, limit):
        if number == len(parts):
            parts.append([])
        parts[number].append(entry)
    return parts


def iter_parts(entries: Iterable[TarEntry], limit: int) -> Iterator[tuple[int, TarEntry]]:
    """Yield (part number, entry) for entries in order, parents before children, in parts of at most ``limit`` bytes.

    No file is split.  Each part starts with the folder entries leading to its first file, so
    every part unpacks on its own and all parts together rebuild the tree.  A file too big for
    any part gets a part of its own (the caller warns).  A part is closed by the first entry that
    does not fit, so an entry's part is known as soon as it is listed: writing need not wait for
    the whole listing.
    """
    by_name: dict[str, TarEntry] = {}  # the folders listed so far (a folder comes before what it holds)
    present: set[str] = set()
    part = used = 0
    has_file = False

    def ancestors(entry: TarEntry) -> list[TarEntry]:
        if entry.name.rpartition("/")[0] in present:  # the usual case: its folder (so every ancestor) is here
            return []
        parts_of = entry.name.split("/")
        chain = ["/".join(parts_of[:n]) for n in range(1, len(parts_of))]
        return [by_name[name] for name in chain if name in by_name and name not in present]

    for entry in entries:
        if entry.is_dir:
            by_name[entry.name] = entry
            if entry.name in present:
                continue
        missing = ancestors(entry)  # folders, almost always none
        extra = entry.nbytes + (sum(e.nbytes for e in missing) if missing else 0)
        # A part of folders only is never closed: a file too big for any part joins it (and is warned about).
        if has_file and _closed_size(used + extra) > limit:
            part, present, used, has_file = part + 1, set(), 0, False
            missing = ancestors(entry)
            extra = entry.nbytes + sum(e.nbytes for e in missing)
        for folder in missing:
            yield part, folder
            present.add(folder.name)
        yield part, entry
        if entry.is_dir:
            present.add(entry.name)
        else:
            has_file = True
        used += extra


def with_folders(entries: Sequence[TarEntry], files: Container[str]) -> list[TarEntry]:
    """Return the entries named in ``files`` and the folders leading to them, in listing order.

    The auxiliary products go in ``<Project>_<OUS>_auxiliary.tar``, beside the product parts:
    optional for reprocessing, so not in what every PI downloads.
    """
    chosen = [e for e in entries if not e.is_dir and e.name in files]
    folders = {e.name.rsplit("/", n)[0] for e in chosen for n in range(1, e.name.count("/") + 1)}
    return [e for e in entries if (e.name in folders if e.is_dir else e.name in files)]


@record
class DeliveryUnit:
    """What one set of tars delivers: a member (MOUS) or the group-level products (GOUS)."""

    ous: str  # the uid (or, with --placeholder-names, the folder name standing in for it)
    level: str  # "member" or "group"
    folder: str  # packpath-relative folder
    paths: tuple[str, ...]  # packpath-relative files and folders below packpath in this unit
    named_by: str = "folder name"  # where the uid came from


@record(frozen=False)
class SplitResult:
    """The tars written, with their md5 and size, and any warning."""

    tars: list[tuple[Path, str, int]] = field(default_factory=list)  # path, md5, size
    warnings: list[str] = field(default_factory=list)
    units: list[DeliveryUnit] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the result as plain JSON (``tarsplit --json``)."""
        return {"tars": [{"path": str(path), "md5": md5, "size": size} for path, md5, size in self.tars],
                "warnings": list(self.warnings)}


def refuse_fake_package(packpath: Path, fake_ok: bool) -> None:
    """Refuse to split a fake or ticket package (its files are empty placeholders) unless told to."""
    path = manifest_path(packpath)
    if not fake_ok and path.exists():
        mode = read_manifest_meta(path).get("mode", "")
        if mode in ("fake", "ticket"):
            raise UsageError(f"{packpath} was made in {mode} mode (empty placeholder files); package it with "
                             "--mode hard or copy first, or pass --fake-ok to split it anyway")


def check_project_name(packpath: Path, naming: DeliveryNaming) -> list[str]:
    """Refuse a packpath whose name is no project code (the tars are named after it); warn for Cycle 0."""
    project = packpath.name
    if not is_project_code(project):
        if not naming.any_project_name:
            raise UsageError(f"{packpath}: the package folder is not named by a project code (e.g. 2017.1.01419.S), "
                             f"so the tars would be named {project}_...; rename it, or pass --any-project-name")
        return [f"{project} is not a project code: the archive cannot ingest tars named {project}_..."]
    if not archive_recognises(project):
        return [f"{project}: the archive's automatic ingest recognises the project codes of cycles 1 and later "
                "(its README check stops at such a code); a Cycle 0 delivery is ingested by hand"]
    return []


def find_units(packpath: Path, naming: DeliveryNaming = DEFAULT_NAMING) -> tuple[list[DeliveryUnit], list[str]]:
    """Return the delivery units of a package (one per member, one per group with group-level files).

    Each unit is named after its real uid (see :func:`~qa2pack.delivery.layout.name_folders`); a unit
    without one is refused unless ``--placeholder-names`` was given, because the archive
    parses the MOUS uid from the tar name.  Returns the units and the warnings.
    """
    if not packpath.is_dir():
        raise InputError(f"not a package folder: {packpath}")
    if (packpath / MARKER).exists():
        holder = writer_holding(packpath)
        if holder:
            raise LockBusyError(f"{packpath} is in use by {holder}; wait for it to finish, or pass --wait")
        raise InputError(f"{packpath} is an incomplete package ({MARKER} is present); run package again first")
    if not science_goals(packpath):
        raise InputError(f"{packpath} holds no package (no sg_ouss_id or science_goal.* folder)")
    groups = list_groups(packpath)
    count = sum(len(g.members) for g in groups)
    if naming.mous_uid and count != 1:
        raise UsageError(f"--mous-uid names the MOUS of a package's only member, but {packpath} has {count} members; "
                         "give a --uid-map file (FOLDER UID lines) instead")
    named, conflicts = name_folders(packpath, groups, naming)
    if conflicts:
        raise InputError("conflicting uids, the delivery would be filed under the wrong OUS: " + "; ".join(conflicts))
    units: list[DeliveryUnit] = []
    for group in groups:
        for member in group.members:
            found = named[member.rel]
            units.append(DeliveryUnit(found.uid or member.name, "member", member.rel, (member.rel,),
                                      found.source or "placeholder"))
        if group.loose:
            found = named[group.rel]
            units.append(DeliveryUnit(found.uid or group.name, "group", group.rel,
                                      tuple(f"{group.rel}/{e}" for e in group.loose), found.source or "placeholder"))
    unnamed = [u for u in units if u.named_by == "placeholder"]
    warnings = []
    if unnamed and not naming.placeholder_names:
        listed = ", ".join(u.folder for u in unnamed)
        raise UsageError(f"no uid is known for {listed}, and the archive reads the OUS uid from the tar name: give "
                         "--mous-uid uid://A001/X1284/X1ef2 (one member) or --uid-map FILE (FOLDER UID lines), or "
                         "--placeholder-names to name the tars after the folders (the archive cannot ingest them)")
    for unit in unnamed:
        warnings.append(f"{unit.folder}: tars named after the placeholder {unit.ous}; the archive parses the OUS uid "
                        "from the tar name and cannot ingest them")
    # Placeholder member names repeat across groups; the group name keeps the tar names unique.
    counts: dict[str, int] = {}
    for unit in units:
        counts[unit.ous] = counts.get(unit.ous, 0) + 1
    units = [replace(u, ous=f"{u.folder.split('/')[1]}.{u.ous}") if counts[u.ous] > 1 and u.named_by == "placeholder"
             else u for u in units]
    return units, warnings


def iter_unit_entries(packpath: Path, unit: DeliveryUnit) -> Iterator[TarEntry]:
    """List a unit as tar entries, one folder at a time, so that writing starts with the first folder.

    Every folder comes before what it holds, in sorted order (depth first, like ``os.walk``);
    the member README comes last.
    """
    project = packpath.name
    base = str(packpath)

    def entry_for(rel: str, st: os.stat_result) -> TarEntry:
        name = f"{project}/{rel}" if rel else project
        kind = stat.S_IFMT(st.st_mode)
        mode, mtime = stat.S_IMODE(st.st_mode), int(st.st_mtime)
        if kind == stat.S_IFREG:  # most entries
            size = st.st_size
            return TarEntry(name, size, header_size(name, size, False, mode, mtime), False, mode, mtime,
                            f"{base}/{rel}", st.st_mtime_ns)
        if kind == stat.S_IFDIR:
            return TarEntry(name, 0, header_size(name, 0, True, mode, mtime), True, mode, mtime, "", st.st_mtime_ns)
        if kind == stat.S_IFLNK:
            raise InputError(f"{packpath / rel} is a symbolic link; the archive rejects packages with links")
        raise InputError(f"{packpath / rel} is not a regular file or folder")

    parts = unit.folder.split("/")
    for depth in range(len(parts) + 1):  # the project folder, sg, group (and member) folders
        rel = "/".join(parts[:depth])
        yield entry_for(rel, os.lstat(packpath / rel) if rel else os.lstat(packpath))
    tops = [] if unit.level == "group" else [unit.folder]  # the folders to walk (entry_for refuses links)
    for rel in unit.paths if unit.level == "group" else ():
        st = os.lstat(packpath / rel)
        yield entry_for(rel, st)
        if stat.S_ISDIR(st.st_mode):
            tops.append(rel)
    stack = tops[::-1]
    # The member README goes last: the archive's ingest reads the last member named *README* as
    # the README (a qa/README.txt after it would be taken instead), and a split member thus
    # carries its README in the last part.
    readme = f"{project}/{unit.folder}/{README_NAME}" if unit.level == "member" else None
    held: TarEntry | None = None
    while stack:  # depth first, like os.walk: a folder's subfolders, then its files, each sorted
        rel_dir = stack.pop()
        folder = open_folder(f"{base}/{rel_dir}")  # its entries are stat'ed from it, not by whole paths
        try:
            with os.scandir(folder) as listing:
                found = sorted(listing, key=attrgetter("name"))
            folders = [e for e in found if e.is_dir(follow_symlinks=False)]
            for entry in folders:
                yield entry_for(f"{rel_dir}/{entry.name}", entry.stat(follow_symlinks=False))
            files = [e for e in found if not e.is_dir(follow_symlinks=False)] if folders else found  # most: files only
            for entry in files:
                made = entry_for(f"{rel_dir}/{entry.name}", entry.stat(follow_symlinks=False))
                if made.name == readme:
                    held = made
                else:
                    yield made
        finally:
            os.close(folder)
        stack.extend(f"{rel_dir}/{entry.name}" for entry in reversed(folders))
    if held is not None:
        yield held


class PartWritten(NamedTuple):
    """One tar written: its md5, its size, and its biggest file (for the warning of a part over the limit)."""

    md5: str
    size: int
    biggest: TarEntry | None


def write_part(entries: Iterable[TarEntry], path: Path, progress: Progress | None = None) -> tuple[str, int]:
    """Write one tar part to a temporary name, rename it when complete; return (md5, size).

    The bytes are exactly what ``tarfile`` writes for these entries (headers from
    :func:`ustar_header`, data padded to 512, two end blocks, the last record filled).  A file
    that vanished, or whose size or modification time is no longer what was listed, stops the
    part: the temporary file is removed, and the error says which file and which tar.
    """
    written = _write_named(path, entries, progress)
    return written.md5, written.size


def _write_named(path: Path, entries: Iterable[TarEntry], progress: Progress | None = None) -> PartWritten:
    tmp = path.with_name(path.name + ".partial")
    written = write_tar(entries, tmp, path.name, progress)
    os.replace(tmp, path)
    return written


def write_tar(entries: Iterable[TarEntry], tmp: Path, name: str, progress: Progress | None = None) -> PartWritten:
    """Write the tar that will be called ``name`` at ``tmp``, removed again if anything goes wrong.

    ``entries`` may still be being listed: each is written as it comes.
    """
    progress = progress or SilentProgress()
    note_writing(str(tmp))
    body = 0
    biggest: TarEntry | None = None
    try:
        with open(tmp, "wb") as raw, HashingWriter(raw) as writer:
            for entry in entries:
                body += entry.nbytes
                if entry.is_dir:
                    writer.write(ustar_header(entry))
                    continue
                _copy_data(entry, ustar_header(entry), writer)
                if biggest is None or entry.size > biggest.size:
                    biggest = entry
                progress.advance(1, entry.size)
            writer.write(bytes(2 * BLOCK))
            writer.write(bytes(-writer.size % RECORD))
    except SourceChanged as exc:
        tmp.unlink(missing_ok=True)
        raise ExecutionError(f"{exc.path} {exc.what} while {name} was written: the package changed under "
                             f"tarsplit; {tmp.name} was removed (tars finished before it are complete); run "
                             "tarsplit again once nothing changes the package") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    expected = _closed_size(body)
    if writer.size != expected:  # the sizes were computed from the very headers written
        tmp.unlink()
        raise ExecutionError(f"{name}: wrote {writer.size} bytes, expected {expected}; a file changed while it "
                             f"was being archived; {tmp.name} was removed")
    return PartWritten(writer.digest.hexdigest(), writer.size, biggest)


def _copy_data(entry: TarEntry, header: bytes, writer: HashingWriter) -> None:
    """Copy a file's header and exactly its listed bytes, or raise SourceChanged if it is not the file listed.

    The file is read straight into the writer's blocks, then checked: its size and modification
    time must still be those listed (to the nanosecond when the listing kept them), which also
    catches a change while it was read.  A big one is checked before it is read too, so a
    changed one is not read in vain.  A part that meets a changed file is removed whole, so
    what was already handed over of it never reaches a finished tar.
    """
    try:
        fd = os.open(entry.source, os.O_RDONLY)  # not open(): a file object costs more than a small file's data
    except FileNotFoundError:
        raise SourceChanged(entry.source, "vanished") from None
    try:
        if entry.size >= _BIG_FILE and not _as_listed(os.fstat(fd), entry):
            raise SourceChanged(entry.source, "changed (size or modification time)")
        if writer.read_from(fd, entry.size, header, _ZEROS[:-entry.size % BLOCK]) < entry.size:
            raise SourceChanged(entry.source, "became shorter")
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not _as_listed(after, entry):
        raise SourceChanged(entry.source, "changed (size or modification time)")


def _as_listed(st: os.stat_result, entry: TarEntry) -> bool:
    if entry.mtime_ns is None:
        return st.st_size == entry.size and int(st.st_mtime) == entry.mtime
    return st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns


_BIG_FILE = 1 << 20  # checked before it is read as well as after


def write_sidecar(tar_path: Path, md5: str) -> Path:
    """Write ``<tar>.md5sum`` in ``md5sum`` output format (temporary name, then rename)."""
    sidecar = tar_path.with_name(tar_path.name + ".md5sum")
    write_atomic(sidecar, md5sum_line(md5, tar_path.name))
    return sidecar


def tarsplit(packpath: Path, output: Path, max_size: int = DEFAULT_MAX_SIZE, members: Sequence[str] = (),
             progress: Progress | None = None, naming: DeliveryNaming = DEFAULT_NAMING,
             wait: bool = False) -> SplitResult:
    """Write every delivery unit of a package as ``<Project>_<OUS>_<mmm>_of_<nnn>.tar`` parts.

    The package is held shared (no run may change it meanwhile) and the output folder exclusively.
    """
    packpath = named_folder(packpath)
    try:
        select_units(packpath, naming, members)  # every refusal before a lock file is made (and again under the lock)
    except LockBusyError:  # a package run is writing it: wait for it, if told to
        if not wait:
            raise
    with RunLock([Want(packpath, exclusive=False), Want(Path(output), exclusive=True)], "tarsplit", wait,
                 on_wait=log.warning):
        return _split(packpath, Path(output), max_size, members, progress or SilentProgress(), naming)


def select_units(packpath: Path, naming: DeliveryNaming, members: Sequence[str] = ()) -> tuple[list[DeliveryUnit],
                                                                                              list[str]]:
    """Return the units to split (only ``members`` when given) and the warnings; refuse what cannot be."""
    units, warnings = find_units(packpath, naming)
    warnings = check_project_name(packpath, naming) + warnings
    if members:
        wanted = set(members)
        units = [u for u in units if u.folder.rsplit("/", 1)[-1] in wanted or u.ous in wanted]
        unknown = wanted - {u.folder.rsplit("/", 1)[-1] for u in units} - {u.ous for u in units}
        if unknown:
            raise UsageError(f"no member named {', '.join(sorted(unknown))} in {packpath}")
    return units, warnings


def _split(packpath: Path, output: Path, max_size: int, members: Sequence[str], progress: Progress,
           naming: DeliveryNaming) -> SplitResult:
    units, warnings = select_units(packpath, naming, members)
    note_writing(str(output))
    output.mkdir(parents=True, exist_ok=True)
    result = SplitResult(warnings=warnings, units=units)
    for warning in result.warnings:
        log.warning("%s", warning)
    progress.start(f"tarsplit: {packpath.name}", 0, 0)  # the totals grow as the units are listed
    for unit in units:
        _split_unit(packpath, unit, output, max_size, progress, result)
    progress.finish()
    return result


def _split_unit(packpath: Path, unit: DeliveryUnit, output: Path, max_size: int, progress: Progress,
                result: SplitResult) -> None:
    """Write a unit's parts, the first while the unit is still being listed, then its auxiliary tar.

    Hashing the tar is the longest step, so it starts with the first folder listed.  The first
    part is written under a temporary name: its final name counts the parts, known only when the
    listing ends.  A part is closed by the first entry that does not fit (:func:`iter_parts`),
    so the parts are the same as if the whole unit had been listed first.
    """
    listed: list[TarEntry] = []  # the folders and the auxiliary files: what the auxiliary tar is made of
    auxiliary: set[str] = set()

    is_auxiliary = matcher(AUXILIARY_PATTERNS)

    def product_entries() -> Iterator[TarEntry]:
        for entry in iter_unit_entries(packpath, unit):
            if entry.is_dir:
                listed.append(entry)
            else:
                progress.expect(1, entry.size)
                if is_auxiliary(entry.name.rpartition("/")[2]):
                    listed.append(entry)
                    auxiliary.add(entry.name)
                    continue
            yield entry

    project = packpath.name
    parts = groupby(iter_parts(product_entries(), max_size), key=itemgetter(0))
    first = output / (part_name(project, unit.ous, 1, 1) + ".partial")
    try:
        written = write_tar((entry for _, entry in next(parts)[1]), first, first.name[:-len(".partial")], progress)
        rest = [[entry for _, entry in part] for _, part in parts]  # lists the remainder of the unit
    except BaseException:
        first.unlink(missing_ok=True)
        raise
    count = 1 + len(rest)
    if count > 1 and unit.level == "member":
        warning = (f"{unit.folder} needs {count} parts of at most {max_size} bytes: the archive's ingest takes "
                   "single-part members (..._001_of_001.tar); a larger --max-size keeps it in one")
        log.warning("%s", warning)
        result.warnings.append(warning)
    if auxiliary:
        path = output / auxiliary_name(project, unit.ous)
        _record(path, _write_named(path, with_folders(listed, auxiliary), progress), result)
    path = output / part_name(project, unit.ous, 1, count)
    os.replace(first, path)
    _record(path, written, result, max_size)
    for number, part in enumerate(rest, 2):
        path = output / part_name(project, unit.ous, number, count)
        _record(path, _write_named(path, part, progress), result, max_size)


def _record(path: Path, part: PartWritten, result: SplitResult, max_size: int | None = None) -> None:
    """Write a finished tar's md5 sidecar and add it to the result, with a warning if it is over the limit."""
    if max_size is not None and part.size > max_size and part.biggest is not None:
        warning = (f"{path.name}: {part.biggest.name} alone is bigger than the limit ({part.biggest.size} > "
                   f"{max_size} bytes); it has a part of its own")
        log.warning("%s", warning)
        result.warnings.append(warning)
    write_sidecar(path, part.md5)
    result.tars.append((path, part.md5, part.size))
