"""Unpack delivery tars and folders safely: list everything first, decide, then write all or nothing.

A listing pass reads each tar once (compressed ones included) and turns its members into
:class:`Entry` items placed below the target folder, without writing.  :func:`tree_problems`
then judges the final tree as a whole: names that leave the target, devices and fifos, a name
that appears twice, a file that would be written through a link or over an existing path, a
symbolic link that, followed through any other link of the final tree or of what the target
already holds, resolves outside the target, a hard link to anything but a regular file of the
same delivery; :func:`space_problems` compares the bytes and inodes the entries need with what
the file system has.  Only then does :class:`Extraction` write: folders and files first, links
last, each new path recorded in a journal before it is made, so a failed run (or a killed one,
at its next start) removes exactly what it made.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from ..core.errors import ExecutionError, InputError, UnsafeArchiveError, note_writing
from ..core.record import field, record
from ..formats.md5runs import CHUNK
from ..run.progress import Progress, SilentProgress, human_bytes

JOURNAL = ".qa2pack-restore-incomplete"
_MAX_LINK_HOPS = 40
_TEXT_LIMIT = 20 << 20  # the largest script/ file read for the checks (PPRs and manifests are small)
_SPACE_MARGIN = 16 << 20
_INODE_MARGIN = 64


@record
class Entry:
    """One thing the unpacking makes, below the target folder."""

    path: str  # target-relative POSIX path, normalised (no '.', '..' or empty parts)
    kind: str  # "dir", "file", "symlink" or "hardlink"
    size: int = 0
    link: str = ""  # a symlink's target text, or a hard link's target-relative source
    mode: int = 0o644
    mtime: int = 0
    origin: str = ""  # the tar or folder it comes from (named in errors)
    member: str = ""  # its name in that tar (or its path in that folder)


@record(frozen=False)
class Listing:
    """Everything an input will make, and the few contents the checks read (script/ files)."""

    entries: list[Entry] = field(default_factory=list)
    texts: dict[str, bytes] = field(default_factory=dict)  # target-relative path -> content


def clean_name(name: str, origin: str) -> str:
    """Return a member name as a target-relative path, or refuse it (absolute, ``..``, empty)."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":" and name[0].isalpha()):
        raise UnsafeArchiveError(f"{origin}: member {name!r} has an absolute path; refused, nothing was written")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"{origin}: member {name!r} leaves the target folder (..); refused, nothing was "
                                 "written")
    if not parts:
        raise UnsafeArchiveError(f"{origin}: a member has no name; refused, nothing was written")
    return "/".join(parts)


def renamed(name: str, rename: tuple[str, str] | None) -> str:
    """Apply ``(old_prefix, new_prefix)`` to a member name ('' as old prefix: put new in front)."""
    if rename is None:
        return name
    old, new = rename
    clean = name.strip("/")
    if not old:
        return f"{new}/{clean}" if clean else new
    if clean == old or clean.startswith(old + "/"):
        return new + clean[len(old):]
    return f"{new}/{clean}"


def _open_tar(archive: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, mode="r|*", errors="surrogateescape")
    except tarfile.TarError as exc:
        raise InputError(f"{archive} is not a readable tar file ({exc})") from None
    except OSError as exc:
        raise InputError(f"cannot read {archive}: {exc.strerror}") from None


def _entry(member: tarfile.TarInfo, path: str, origin: str, rename: tuple[str, str] | None) -> Entry:
    mtime = int(member.mtime) if isinstance(member.mtime, (int, float)) else 0
    if member.isdir():
        return Entry(path, "dir", mode=member.mode, mtime=mtime, origin=origin, member=member.name)
    if member.isreg():
        return Entry(path, "file", member.size, mode=member.mode, mtime=mtime, origin=origin, member=member.name)
    if member.issym():
        return Entry(path, "symlink", link=member.linkname, origin=origin, member=member.name)
    if member.islnk():
        source = clean_name(renamed(member.linkname, rename), origin)
        return Entry(path, "hardlink", link=source, origin=origin, member=member.name)
    kind = "device" if member.ischr() or member.isblk() else "fifo" if member.isfifo() else "special file"
    raise UnsafeArchiveError(f"{origin}: member {member.name!r} is a {kind}; refused, nothing was written")


def list_tar(archive: Path, rename: tuple[str, str] | None = None,
             wants_text: Callable[[str], bool] = lambda path: False) -> Listing:
    """List a tar (any compression) as entries, reading the texts the checks want; write nothing."""
    listing = Listing()
    try:
        with _open_tar(archive) as tar:
            for member in tar:
                path = clean_name(renamed(member.name, rename), archive.name)
                entry = _entry(member, path, archive.name, rename)
                listing.entries.append(entry)
                if entry.kind == "file" and entry.size <= _TEXT_LIMIT and wants_text(path):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        listing.texts[path] = handle.read()
    except tarfile.TarError as exc:
        raise InputError(f"{archive} is not a readable tar file ({exc})") from None
    except EOFError:
        raise InputError(f"{archive} ends before its last member: the file is truncated") from None
    return listing


def first_member(archive: Path) -> str:
    """Return the first member name of a tar (raw tars come with or without their package path)."""
    with _open_tar(archive) as tar:
        for member in tar:
            return str(member.name)
    return ""


def list_folder(folder: Path, below: str, wants_text: Callable[[str], bool] = lambda path: False) -> Listing:
    """List a folder given as input (an ASDM or an unpacked package) as entries placed at ``below``."""
    listing = Listing([Entry(below, "dir", mode=0o755, origin=str(folder), member=".")])
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder).replace(os.sep, "/")
        prefix = below if rel_dir == "." else f"{below}/{rel_dir}"
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            path = f"{prefix}/{name}"
            if stat.S_ISLNK(st.st_mode):
                listing.entries.append(Entry(path, "symlink", link=os.readlink(full), origin=str(folder),
                                             member=full))
            elif stat.S_ISDIR(st.st_mode):
                listing.entries.append(Entry(path, "dir", mode=stat.S_IMODE(st.st_mode), origin=str(folder),
                                             member=full))
            elif stat.S_ISREG(st.st_mode):
                listing.entries.append(Entry(path, "file", st.st_size, mode=stat.S_IMODE(st.st_mode),
                                             mtime=int(st.st_mtime), origin=str(folder), member=full))
                if st.st_size <= _TEXT_LIMIT and wants_text(path):
                    with open(full, "rb") as handle:
                        listing.texts[path] = handle.read()
            else:
                raise UnsafeArchiveError(f"{full} is a device, fifo or socket; refused, nothing was written")
        dirnames.sort()
    return listing


# -- judging the final tree ---------------------------------------------------------------------------


class _Escape(Exception):
    pass


@record(frozen=False)
class FinalTree:
    """The target folder as it will be: what it holds now plus every entry, by path."""

    root: Path
    entries: dict[str, Entry] = field(default_factory=dict)

    def on_disk(self, path: str) -> str | None:
        """Return what the target folder holds at a path now (None: nothing)."""
        try:
            st = os.lstat(self.root / path)
        except OSError:
            return None
        return "symlink" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"

    def kind(self, path: str) -> str | None:
        """Return the kind of a path in the final tree: what the disk holds (never replaced), else the entry's."""
        found = self.on_disk(path)
        if found is not None:
            return found
        entry = self.entries.get(path)
        return entry.kind if entry is not None else None

    def link_target(self, path: str) -> str:
        """Return the target text of a symbolic link of the final tree."""
        if self.on_disk(path) == "symlink":
            return os.readlink(self.root / path)
        return self.entries[path].link

    def children(self, path: str) -> set[str]:
        """Return the names in a folder of the final tree (what it holds now and what the entries add)."""
        prefix = f"{path}/" if path else ""
        names = {p[len(prefix):].split("/", 1)[0] for p in self.entries if p.startswith(prefix) and p != path}
        with contextlib.suppress(OSError):
            names.update(os.listdir(self.root / path))
        return names

    def resolve(self, path: str, hops: int = 0) -> str:
        """Return where a path leads once every symbolic link on it is followed; raise _Escape outside."""
        done: list[str] = []
        parts = [p for p in path.split("/") if p not in ("", ".")]
        while parts:
            part = parts.pop(0)
            if part == "..":
                if not done:
                    raise _Escape
                done.pop()
                continue
            done.append(part)
            here = "/".join(done)
            if self.kind(here) == "symlink":
                hops += 1
                if hops > _MAX_LINK_HOPS:
                    raise _Escape  # a loop: refused like an escape (it leads nowhere inside)
                target = self.link_target(here)
                if target.startswith("/"):
                    raise _Escape
                done.pop()
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
        return "/".join(done)


def tree_problems(tree: FinalTree) -> tuple[list[str], list[str]]:
    """Return what makes the final tree unsafe, and what stands in its way (empty lists: all is well).

    Unsafe: a link that leads outside, a write through a link or below a file, a hard link to
    anything but a regular file of the delivery.  In the way: paths the target holds already
    (nothing is ever overwritten), summarised in one line.
    """
    problems: list[str] = []
    overwrites: list[str] = []
    for entry in tree.entries.values():
        where = f"{entry.origin}: {entry.member!r}"
        parent = entry.path.rpartition("/")[0]
        walked = ""
        for part in parent.split("/") if parent else []:
            walked = f"{walked}/{part}" if walked else part
            kind = tree.kind(walked)
            if kind == "symlink":
                problems.append(f"{where} would be written through the link {walked}")
                break
            if kind == "file" or kind == "hardlink":
                problems.append(f"{where} would be written below the file {walked}")
                break
        present = tree.on_disk(entry.path)
        if present is not None and not (present == entry.kind == "dir"):
            overwrites.append(entry.path)  # only a folder may meet a folder that is there already
        if entry.kind == "symlink":
            try:
                escapes = entry.link.startswith("/") or tree.resolve(posixpath.join(parent, entry.link)) is None
            except _Escape:
                escapes = True
            if escapes:
                problems.append(f"{where} is a link to {entry.link!r}, which leads outside the target folder")
        if entry.kind == "hardlink":
            try:
                source = tree.resolve(entry.link)
            except _Escape:
                source = None
            target = tree.entries.get(source) if source is not None else None
            if target is None or target.kind != "file":
                problems.append(f"{where} is a hard link to {entry.link!r}, which is no regular file of this delivery")
    conflicts = []
    if overwrites:
        shown = ", ".join(sorted(overwrites)[:3]) + (" ..." if len(overwrites) > 3 else "")
        conflicts.append(f"{tree.root} already holds {len(overwrites)} of the paths to unpack ({shown}); nothing is "
                         "ever overwritten: unpack into a new folder, or move them away")
    return problems, conflicts


def merge(listings: Iterable[Listing], root: Path) -> tuple[FinalTree, list[str]]:
    """Put the listings together into the final tree; a path made twice (but for folders) is a problem."""
    tree = FinalTree(root)
    problems: list[str] = []
    for listing in listings:
        for entry in listing.entries:
            seen = tree.entries.get(entry.path)
            if seen is not None and not (seen.kind == entry.kind == "dir"):
                problems.append(f"{entry.origin}: {entry.member!r} and {seen.origin}: {seen.member!r} both make "
                                f"{entry.path}")
                continue
            tree.entries.setdefault(entry.path, entry)
    return tree, problems


def space_problems(root: Path, entries: Iterable[Entry], more_bytes: int = 0, what: str = "") -> tuple[list[str], int]:
    """Compare the bytes and inodes entries need (and ``more_bytes``) with the free space; return (problems, bytes)."""
    entries = list(entries)
    needed = sum(e.size for e in entries if e.kind == "file")
    inodes = sum(1 for e in entries if e.kind != "hardlink")
    anchor = root
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    info = os.statvfs(anchor)
    free, free_inodes = info.f_bavail * info.f_frsize, info.f_favail
    problems = []
    if needed + more_bytes + _SPACE_MARGIN > free:
        extra = f" and {human_bytes(more_bytes)} {what}" if more_bytes else ""
        problems.append(f"not enough space in {anchor}: unpacking needs {human_bytes(needed)}{extra}, "
                        f"{human_bytes(free)} are free; nothing was written")
    if info.f_files and inodes + _INODE_MARGIN > free_inodes:
        problems.append(f"not enough inodes in {anchor}: unpacking makes {inodes} files and folders, "
                        f"{free_inodes} are free; nothing was written")
    return problems, needed


# -- writing --------------------------------------------------------------------------------------------


class Extraction:
    """Write the final tree into the target, recording each new path first; undo on failure."""

    def __init__(self, root: Path, progress: Progress | None = None) -> None:
        self.root = root
        self.progress = progress or SilentProgress()
        self.journal_path = root / JOURNAL
        self._journal: IO[str] | None = None
        self._new_dirs: set[str] = set()
        self._made_root: list[Path] = []  # the target and the folders above it that this run made

    def __enter__(self) -> Extraction:
        note_writing(str(self.root))
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            self._made_root.append(folder)
            folder = folder.parent
        self.root.mkdir(parents=True, exist_ok=True)
        self._journal = open(self.journal_path, "x", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: object) -> None:
        assert self._journal is not None
        self._journal.close()
        if kind is None:
            self.journal_path.unlink()
            return
        undo(self.root)
        for folder in self._made_root:  # deepest first; only while empty
            try:
                folder.rmdir()
            except OSError:
                break

    def record(self, path: str) -> None:
        """Write down a path before making it (flushed: a killed run is undone by the next)."""
        assert self._journal is not None
        self._journal.write(json.dumps(path) + "\n")
        self._journal.flush()

    def _not_ours(self, path: str) -> ExecutionError:
        """Mark a recorded path that someone else made meanwhile: undo must never remove it."""
        assert self._journal is not None
        self._journal.write(json.dumps({"not-ours": path}) + "\n")
        self._journal.flush()
        return ExecutionError(f"{self.root / path} appeared while restore-prep was unpacking (another program "
                              "writes into the folder)")

    def claim(self, path: str) -> None:
        """Record a new file or link unless a folder this run made holds it (its removal takes it along)."""
        if not self.in_new_dir(path):
            self.record(path)

    def in_new_dir(self, path: str) -> bool:
        """Tell whether a path lies in a folder this run made."""
        parent = path.rpartition("/")[0]
        while parent:
            if parent in self._new_dirs:
                return True
            parent = parent.rpartition("/")[0]
        return False

    def make_dir(self, path: str) -> None:
        """Make a folder (and the folders above it) unless it exists."""
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            rel = "/".join(parts[:n])
            full = self.root / rel
            if rel in self._new_dirs or full.is_dir():
                continue
            if not self.in_new_dir(rel):
                self.record(rel)  # only the first new folder on a path: its removal takes what is inside
            try:
                full.mkdir()
            except FileExistsError:
                raise self._not_ours(rel) from None
            self._new_dirs.add(rel)

    def write_file(self, entry: Entry, data: IO[bytes]) -> None:
        """Write one regular file (never over an existing one); its mode without set-id bits, its mtime."""
        if "/" in entry.path:
            self.make_dir(entry.path.rpartition("/")[0])
        self.claim(entry.path)
        target = self.root / entry.path
        written = 0
        try:
            out = open(target, "xb")  # noqa: SIM115 - closed right below
        except FileExistsError:
            raise self._not_ours(entry.path) from None
        with out:
            while block := data.read(CHUNK):
                out.write(block)
                written += len(block)
        if written != entry.size:
            raise ExecutionError(f"{entry.origin}: {entry.member!r} held {written} bytes, {entry.size} listed; "
                                 "the input changed while it was unpacked")
        os.chmod(target, stat.S_IMODE(entry.mode) & 0o755 | 0o600)
        os.utime(target, (entry.mtime, entry.mtime))
        self.progress.advance(1, entry.size)

    def make_link(self, entry: Entry) -> None:
        """Make a symbolic or hard link (after every file and folder exists)."""
        if "/" in entry.path:
            self.make_dir(entry.path.rpartition("/")[0])
        self.claim(entry.path)
        target = self.root / entry.path
        try:
            if entry.kind == "symlink":
                os.symlink(entry.link, target)
            else:
                os.link(self.root / entry.link, target, follow_symlinks=False)
        except FileExistsError:
            raise self._not_ours(entry.path) from None

    def place_file(self, entry: Entry) -> None:
        """Place a file of a folder given as input: a hard link where possible, else a copy."""
        if "/" in entry.path:
            self.make_dir(entry.path.rpartition("/")[0])
        self.claim(entry.path)
        target = self.root / entry.path
        try:
            os.link(entry.member, target)
        except FileExistsError:
            raise self._not_ours(entry.path) from None
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copy2(entry.member, target)
        self.progress.advance(1, entry.size)


def undo(root: Path) -> int:
    """Remove what an unpacking recorded in its journal (this run's, or a killed run's); return how many."""
    journal = root / JOURNAL
    if not journal.exists():
        return 0
    paths: list[str] = []
    foreign: set[str] = set()
    with open(journal, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line a kill cut short: its path was not made yet
            if isinstance(record, dict):
                foreign.add(record.get("not-ours", ""))
            else:
                paths.append(record)
    for rel in reversed([p for p in paths if p not in foreign]):
        full = root / rel
        if full.is_dir() and not full.is_symlink():
            shutil.rmtree(full)
        elif os.path.lexists(full):
            full.unlink()
    journal.unlink()
    return len(paths)


def extract_tar(extraction: Extraction, archive: Path, planned: list[Entry], rename: tuple[str, str] | None) -> \
        list[Entry]:
    """Write a tar's folders and files as listed (links are returned, to be made last).

    The tar is read a second time: each member must be the entry the listing pass judged, or the
    input changed in between and nothing more is written.
    """
    links: list[Entry] = []
    expected: Iterator[Entry] = iter(planned)
    with _open_tar(archive) as tar:
        for member in tar:
            entry = next(expected, None)
            path = clean_name(renamed(member.name, rename), archive.name)
            if entry is None or entry.path != path or entry != _entry(member, path, archive.name, rename):
                raise ExecutionError(f"{archive.name} changed after it was checked (member {member.name!r}); "
                                     "nothing of it is kept")
            if entry.kind == "dir":
                extraction.make_dir(entry.path)
            elif entry.kind == "file":
                handle = tar.extractfile(member)
                assert handle is not None
                extraction.write_file(entry, handle)
            else:
                links.append(entry)
    return links


def copy_folder(extraction: Extraction, planned: list[Entry]) -> list[Entry]:
    """Place a folder given as input (its files hard-linked or copied); its links are returned, to be made last."""
    links = []
    for entry in planned:
        if entry.kind == "dir":
            extraction.make_dir(entry.path)
        elif entry.kind == "file":
            extraction.place_file(entry)
        else:
            links.append(entry)
    return links


def check_links_on_disk(root: Path, links: Iterable[Entry]) -> list[str]:
    """After writing, resolve every link made for real: none may lead outside the target folder."""
    real_root = os.path.realpath(root)
    bad = []
    for entry in links:
        real = os.path.realpath(root / entry.path)
        if not (real == real_root or real.startswith(real_root + os.sep)):
            bad.append(f"{entry.origin}: {entry.member!r} leads to {real}, outside {root}")
    return bad


def unpack_archive(archive: Path, into: Path, progress: Progress | None = None) -> list[Entry]:
    """Unpack one tar safely into a folder: judged whole first, written all or nothing; return its entries."""
    listing = list_tar(archive)
    tree, problems = merge([listing], into)
    unsafe, conflicts = tree_problems(tree)
    problems += unsafe + conflicts
    space, _ = space_problems(into, listing.entries)
    if problems or space:
        everything = problems + space
        raise UnsafeArchiveError("; ".join(everything) + ("" if space and not problems else "; refused, nothing was "
                                                                                               "written"), everything)
    try:
        with Extraction(into, progress) as extraction:
            links = extract_tar(extraction, archive, listing.entries, None)
            for entry in links:
                extraction.make_link(entry)
            escaped = check_links_on_disk(into, links)
            if escaped:
                raise UnsafeArchiveError("; ".join(escaped))
    except OSError as exc:
        raise ExecutionError(f"unpacking {archive.name} failed: {exc.strerror}; what it had written was removed") \
            from None
    return listing.entries
