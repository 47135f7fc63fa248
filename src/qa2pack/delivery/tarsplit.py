"""Split a package into delivery tar files, without a shell.

Planning is pure: every entry's tar header is rendered by ``tarfile`` itself
(``TarInfo.tobuf``), so a part's size is known exactly before anything is written (512-byte
headers, PAX headers for long or non-ASCII names, data padding, the two end blocks and the
padding to a 10240-byte record).  Writing streams each file once; the md5 of the tar is
computed on the way and written as a ``md5sum``-format sidecar.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, NamedTuple

from ..core.errors import ExecutionError, InputError, LockBusyError, UsageError, note_writing
from ..core.naming import matches, named_folder
from ..formats.atomic import write_atomic
from ..formats.manifest import HashingWriter, SourceChanged, manifest_path, md5sum_line, read_manifest
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

log = logging.getLogger(__name__)

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
TAR_FORMAT: Final = tarfile.PAX_FORMAT
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

    @property
    def nbytes(self) -> int:
        """Bytes this entry takes in a tar: header plus data padded to 512."""
        return self.header + -(-self.size // BLOCK) * BLOCK


def tar_bytes(entries: Iterable[TarEntry]) -> int:
    """Return the exact size of a tar holding ``entries`` (end blocks and record padding included)."""
    body = sum(e.nbytes for e in entries) + 2 * BLOCK
    return -(-body // RECORD) * RECORD


def make_tarinfo(entry: TarEntry) -> tarfile.TarInfo:
    """Return the TarInfo written for an entry: a plain file or folder, owner 0, whole-second mtime."""
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
                         tarfile.DIRTYPE if entry.is_dir else tarfile.REGTYPE)
    if len(encoded) <= _USTAR_NAME:
        return block
    record = b"%d path=%s\n" % (_pax_record_length("path", len(encoded)), encoded)
    pax = _ustar_block(b"././@PaxHeader", 0, len(record), 0, tarfile.XHDTYPE)
    return pax + record + bytes(-len(record) % BLOCK) + block


def _ustar_block(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes) -> bytes:
    """One ustar header block as ``tarfile`` writes it (owner 0, no user or group names)."""
    block = bytearray(BLOCK)
    block[0:len(name)] = name
    block[100:157] = b"%07o\0%07o\0%07o\0%011o\0%011o\0        %s" % (mode, 0, 0, size, mtime, typeflag)
    block[257:265] = tarfile.POSIX_MAGIC
    # As tarfile: the checksum counts its own field as spaces and is six digits, NUL, space.
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def split_into_parts(entries: Sequence[TarEntry], limit: int) -> list[list[TarEntry]]:
    """Pack entries (in order, parents before children) into parts of at most ``limit`` bytes.

    No file is split.  Each part starts with the folder entries leading to its first file, so
    every part unpacks on its own and all parts together rebuild the tree.  A file too big for
    any part gets a part of its own (the caller warns).
    """
    by_name = {e.name: e for e in entries if e.is_dir}
    parts: list[list[TarEntry]] = []
    current: list[TarEntry] = []
    present: set[str] = set()
    used = 0

    def ancestors(entry: TarEntry) -> list[TarEntry]:
        if entry.name.rpartition("/")[0] in present:  # the usual case: its folder (so every ancestor) is here
            return []
        parts_of = entry.name.split("/")
        chain = ["/".join(parts_of[:n]) for n in range(1, len(parts_of))]
        return [by_name[name] for name in chain if name in by_name and name not in present]

    has_file = False
    for entry in entries:
        if entry.is_dir and entry.name in present:
            continue
        needed = ancestors(entry) + [entry]
        extra = sum(e.nbytes for e in needed)
        # A part of folders only is never closed: a file too big for any part joins it (and is warned about).
        if has_file and -(-(used + extra + 2 * BLOCK) // RECORD) * RECORD > limit:
            parts.append(current)
            current, present, used, has_file = [], set(), 0, False
            needed = ancestors(entry) + [entry]
            extra = sum(e.nbytes for e in needed)
        current += needed
        present.update(e.name for e in needed if e.is_dir)
        used += extra
        has_file = has_file or not entry.is_dir
    if current:
        parts.append(current)
    return parts


def split_auxiliary(entries: Sequence[TarEntry],
                    patterns: Sequence[str] = AUXILIARY_PATTERNS) -> tuple[list[TarEntry], list[TarEntry]]:
    """Separate the auxiliary products (with the folders leading to them) from the rest.

    The archive delivers them in ``<Project>_<OUS>_auxiliary.tar``, beside the product parts:
    optional for reprocessing, so not in what every PI downloads.
    """
    aux_names = {e.name for e in entries if not e.is_dir
                 and matches(e.name.rsplit("/", 1)[-1], patterns)}
    if not aux_names:
        return list(entries), []
    folders = {name.rsplit("/", n)[0] for name in aux_names for n in range(1, name.count("/") + 1)}
    main = [e for e in entries if e.name not in aux_names]
    auxiliary = [e for e in entries if e.name in aux_names or (e.is_dir and e.name in folders)]
    return main, auxiliary


@dataclass(frozen=True)
class DeliveryUnit:
    """What one set of tars delivers: a member (MOUS) or the group-level products (GOUS)."""

    ous: str  # the uid (or, with --placeholder-names, the folder name standing in for it)
    level: str  # "member" or "group"
    folder: str  # packpath-relative folder
    paths: tuple[str, ...]  # packpath-relative files and folders below packpath in this unit
    named_by: str = "folder name"  # where the uid came from


@dataclass
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
        mode = read_manifest(path).meta.get("mode", "")
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


def unit_entries(packpath: Path, unit: DeliveryUnit) -> list[TarEntry]:
    """List a unit as tar entries (folders from the project folder down), with exact header sizes."""
    project = packpath.name
    base = str(packpath)
    entries: list[TarEntry] = []

    def add(rel: str, st: os.stat_result) -> None:
        name = f"{project}/{rel}" if rel else project
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{packpath / rel} is a symbolic link; the archive rejects packages with links")
        is_dir = stat.S_ISDIR(st.st_mode)
        if not is_dir and not stat.S_ISREG(st.st_mode):
            raise InputError(f"{packpath / rel} is not a regular file or folder")
        mode, mtime, size = stat.S_IMODE(st.st_mode), int(st.st_mtime), 0 if is_dir else st.st_size
        header = header_size(name, size, is_dir, mode, mtime)
        entries.append(TarEntry(name, size, header, is_dir, mode, mtime, "" if is_dir else f"{base}/{rel}"))

    parts = unit.folder.split("/")
    for depth in range(len(parts) + 1):  # the project folder, sg, group (and member) folders
        rel = "/".join(parts[:depth])
        add(rel, os.lstat(packpath / rel) if rel else os.lstat(packpath))
    tops = [] if unit.level == "group" else [unit.folder]  # the folders to walk (add refuses links)
    for rel in unit.paths if unit.level == "group" else ():
        st = os.lstat(packpath / rel)
        add(rel, st)
        if stat.S_ISDIR(st.st_mode):
            tops.append(rel)
    stack = tops[::-1]
    readme = f"{project}/{unit.folder}/{README_NAME}" if unit.level == "member" else None
    while stack:  # depth first, like os.walk: a folder's subfolders, then its files, each sorted
        rel_dir = stack.pop()
        with os.scandir(f"{base}/{rel_dir}") as listing:
            found = sorted(listing, key=lambda entry: entry.name)
        folders = [e for e in found if e.is_dir(follow_symlinks=False)]
        for entry in folders:
            add(f"{rel_dir}/{entry.name}", entry.stat(follow_symlinks=False))
        for entry in found:
            if not entry.is_dir(follow_symlinks=False):
                add(f"{rel_dir}/{entry.name}", entry.stat(follow_symlinks=False))
        stack.extend(f"{rel_dir}/{entry.name}" for entry in reversed(folders))
    # The member README goes last: the archive's ingest reads the last member named *README* as
    # the README (a qa/README.txt after it would be taken instead), and a split member thus
    # carries its README in the last part.
    at = next((n for n, e in enumerate(entries) if e.name == readme), None)
    if at is not None:
        entries.append(entries.pop(at))
    return entries  # every folder is listed before what it holds, in sorted order


def write_part(entries: Sequence[TarEntry], path: Path, progress: Progress | None = None) -> tuple[str, int]:
    """Write one tar part to a temporary name, rename it when complete; return (md5, size).

    The bytes are exactly what ``tarfile`` writes for these entries (headers from
    :func:`ustar_header`, data padded to 512, two end blocks, the last record filled).  A file
    that vanished, or whose size or modification time is no longer what was listed, stops the
    part: the temporary file is removed, and the error says which file and which tar.
    """
    progress = progress or SilentProgress()
    tmp = path.with_name(path.name + ".partial")
    note_writing(str(tmp))
    try:
        with open(tmp, "wb") as raw, HashingWriter(raw) as writer:
            for entry in entries:
                writer.write(ustar_header(entry))
                if not entry.is_dir:
                    _copy_data(entry, writer)
                progress.advance(0 if entry.is_dir else 1, entry.size)
            writer.write(bytes(2 * BLOCK))
            writer.write(bytes(-writer.size % RECORD))
    except SourceChanged as exc:
        tmp.unlink(missing_ok=True)
        raise ExecutionError(f"{exc.path} {exc.what} while {path.name} was written: the package changed under "
                             f"tarsplit; {tmp.name} was removed (tars finished before it are complete); run "
                             "tarsplit again once nothing changes the package") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    expected = tar_bytes(entries)
    if writer.size != expected:  # the sizes were computed from the very headers written
        tmp.unlink()
        raise ExecutionError(f"{path.name}: wrote {writer.size} bytes, expected {expected}; a file changed while it "
                             f"was being archived; {tmp.name} was removed")
    os.replace(tmp, path)
    return writer.digest.hexdigest(), writer.size


def _copy_data(entry: TarEntry, writer: HashingWriter) -> None:
    """Copy exactly the listed bytes of a file, or raise SourceChanged if it is not the file listed."""
    try:
        fd = os.open(entry.source, os.O_RDONLY)  # not open(): a file object costs more than a small file's data
    except FileNotFoundError:
        raise SourceChanged(entry.source, "vanished") from None
    try:
        before = os.fstat(fd)
        if before.st_size != entry.size or int(before.st_mtime) != entry.mtime:
            raise SourceChanged(entry.source, "changed (size or modification time)")
        remaining = entry.size
        while remaining:
            chunk = os.read(fd, min(remaining, _COPY_CHUNK))
            if not chunk:
                raise SourceChanged(entry.source, "became shorter")
            writer.write(chunk)
            remaining -= len(chunk)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SourceChanged(entry.source, "changed")
    writer.write(bytes(-entry.size % BLOCK))


_COPY_CHUNK = 4 << 20


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
    plans = []
    for unit in units:
        main, auxiliary = split_auxiliary(unit_entries(packpath, unit))
        parts = split_into_parts(main, max_size)
        if len(parts) > 1 and unit.level == "member":
            result.warnings.append(f"{unit.folder} needs {len(parts)} parts of at most {max_size} bytes: the archive's "
                                   "ingest takes single-part members (..._001_of_001.tar); a larger --max-size keeps "
                                   "it in one")
        plans.append((unit, parts, auxiliary))
    total_bytes = sum(e.size for _, parts, aux in plans for part in [*parts, aux] for e in part)
    total_files = sum(1 for _, parts, aux in plans for part in [*parts, aux] for e in part if not e.is_dir)
    for warning in result.warnings:
        log.warning("%s", warning)
    progress.start(f"tarsplit: {packpath.name}", total_bytes, total_files)
    for unit, parts, auxiliary in plans:
        if auxiliary:
            name = auxiliary_name(packpath.name, unit.ous)
            md5, written = write_part(auxiliary, output / name, progress)
            write_sidecar(output / name, md5)
            result.tars.append((output / name, md5, written))
        for number, part in enumerate(parts, 1):
            name = part_name(packpath.name, unit.ous, number, len(parts))
            size = tar_bytes(part)
            if size > max_size:
                biggest = max(part, key=lambda e: e.size)
                warning = (f"{name}: {biggest.name} alone is bigger than the limit ({biggest.size} > {max_size} "
                           "bytes); it has a part of its own")
                log.warning("%s", warning)
                result.warnings.append(warning)
            md5, written = write_part(part, output / name, progress)
            write_sidecar(output / name, md5)
            result.tars.append((output / name, md5, written))
    progress.finish()
    return result
