"""The only reader of the reduction tree: one ``os.scandir`` walk, one ``lstat`` per file.

The walk classifies each folder as soon as it has listed it (``classify.classify_dir``) so
that the inside of a CASA table, an ASDM or a plot folder is only listed, never classified,
and nothing is stat-ed twice.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

from ..core.child import check_run, open_folder
from ..core.errors import InputError
from ..core.forked import Helper, Report, share
from ..core.model import FileEntry, Folder, Kind, LinkNote, PackageState, Scan, Unit
from ..core.naming import leading_uid
from ..core.record import field, record
from ..delivery.layout import list_groups, readme_of, science_goals
from . import ahead, wire
from .classify import DirFacts, classify_dir, parse_table_type


@record(frozen=False)
class _Listing:
    dirs: list[tuple[str, str, str | None]]  # name, path to walk, origpath-relative real path if a link
    files: list[tuple[str, int]]  # plain files: (name, size), nothing more (most are inside units)
    linked: list[FileEntry] = field(default_factory=list)  # links to files inside origpath, followed
    asdm_links: list[str] = field(default_factory=list)  # links to ASDMs, not followed

    def entries(self) -> list[FileEntry]:
        """Every file of the folder as an entry, sorted (for a folder that is classified, not a unit)."""
        return sorted([FileEntry(name, size) for name, size in self.files] + self.linked)

    def sized(self) -> list[tuple[str, int]]:
        """Every file of the folder as (name, size), links to files included."""
        return self.files + [(f.name, f.size) for f in self.linked] if self.linked else self.files


class _Child(NamedTuple):
    """A folder to scan below the current one (the arguments of :meth:`_Walker.scan_folder`)."""

    name: str
    path: str
    rel: str
    real_rel: str | None
    ancestors: frozenset[str]


class _Walker:
    """State of one scan: root, link policy, and every link that was not followed."""

    def __init__(self, root: str, follow_links: bool, plain_names: frozenset[str]) -> None:
        self.root = root
        self.follow_links = follow_links
        self.plain_names = plain_names
        self.notes: list[LinkNote] = []
        self.owners: dict[tuple[int, int], str] = {}  # (owner, device) -> one file of theirs (hard-link preflight)
        self.may_share = True  # the first folder with two subfolders shares them with a helper process
        self.early = ahead.take(root)  # folders a child process listed while the run started

    # -- listing ---------------------------------------------------------------------------
    def list_dir(self, path: str, rel: str, ancestors: frozenset[str] | None) -> _Listing:
        """List one folder; ``ancestors`` (real relative paths) is None where links stay unfollowed.

        Files are stat-ed from the open folder, so no path is resolved again for each of them.
        """
        early = self.early.pop(path, None)
        if early is not None and ahead.unchanged(early):
            return self._list_early(early, path, rel, ancestors)
        try:
            fd = open_folder(path)
        except PermissionError:
            raise InputError(f"cannot read {path}: permission denied") from None
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        try:
            return self._list_open(fd, path, rel, ancestors)
        finally:
            os.close(fd)

    def _list_open(self, fd: int, path: str, rel: str, ancestors: frozenset[str] | None) -> _Listing:
        try:
            with os.scandir(fd) as iterator:
                entries = list(iterator)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None
        listing = _Listing([], [])
        files, dirs, owners = listing.files, listing.dirs, self.owners
        last_owner = (-1, -1)
        inside = path if path.endswith("/") else path + "/"
        for entry in entries:  # most entries are plain files: they are tested first
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                files.append((entry.name, st.st_size))
                if st.st_uid != last_owner[0] or st.st_dev != last_owner[1]:  # one dict look-up per change of owner
                    last_owner = (st.st_uid, st.st_dev)
                    owners.setdefault(last_owner, inside + entry.name)
            elif entry.is_dir(follow_symlinks=False):
                dirs.append((entry.name, inside + entry.name, None))
            elif entry.is_symlink():
                self._add_link(entry.name, inside + entry.name, f"{rel}/{entry.name}" if rel else entry.name,
                               ancestors, listing)
            else:
                self._special(rel, entry.name)
        return listing

    def _list_early(self, items: ahead.Listing, path: str, rel: str, ancestors: frozenset[str] | None) -> _Listing:
        """Build one folder's listing from what the child process listed (see :mod:`.ahead`)."""
        count = int(items[2])
        names = items[3:3 + count]
        listing = _Listing([], list(zip(names, map(int, items[3 + count:3 + 2 * count]))))
        inside = path if path.endswith("/") else path + "/"
        owners = items[3 + 2 * count]
        for change in owners.split(";") if owners else ():
            index, uid, device = change.split(":")
            self.owners.setdefault((int(uid), int(device)), inside + names[int(index)])
        others = iter(items[4 + 2 * count:])
        for name, code in zip(others, others):
            if code == ahead.FOLDER:
                listing.dirs.append((name, inside + name, None))
            elif code == ahead.LINK:
                self._add_link(name, inside + name, f"{rel}/{name}" if rel else name, ancestors, listing)
            else:
                self._special(rel, name)
        return listing

    def _special(self, rel: str, name: str) -> None:
        """Note a socket, fifo or device: never packaged, always reported."""
        self.notes.append(LinkNote(f"{rel}/{name}" if rel else name, "", "special file (not a regular file or folder)"))

    def _add_link(self, name: str, path: str, rel: str, ancestors: frozenset[str] | None,
                  listing: _Listing) -> None:
        target_text = os.readlink(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = "symlink loop" if exc.errno == errno.ELOOP else "points nowhere"
            self.notes.append(LinkNote(rel, target_text, reason))
            return
        real = os.path.realpath(path)
        inside = real == self.root or real.startswith(self.root + os.sep)
        if stat.S_ISDIR(st.st_mode) and not (inside and self.follow_links and ancestors is not None) \
                and is_asdm(Path(real)):
            listing.asdm_links.append(name)  # an EB folder as 'workspace start' makes it
            self.notes.append(LinkNote(rel, target_text, "link to an ASDM (it marks its EB folder; the archive "
                                                         "delivers raw data)", asdm=True))
            return
        if not inside:
            self.notes.append(LinkNote(rel, target_text, "points outside origpath", outside=True))
            return
        real_rel = os.path.relpath(real, self.root).replace(os.sep, "/")
        if stat.S_ISREG(st.st_mode):
            listing.linked.append(FileEntry(name, st.st_size, real_rel))
        elif not stat.S_ISDIR(st.st_mode):
            self.notes.append(LinkNote(rel, target_text, "link to a special file"))
        elif not self.follow_links or ancestors is None:
            self.notes.append(LinkNote(rel, target_text, "link to a folder (use --follow-links)"))
        elif real_rel in ancestors or real_rel == ".":
            raise InputError(f"symlink loop: {rel} -> {target_text} points back to a folder that contains it")
        else:
            listing.dirs.append((name, path, real_rel))

    # -- walking ---------------------------------------------------------------------------
    def scan_folder(self, name: str, path: str, rel: str, real_rel: str | None,
                    ancestors: frozenset[str]) -> Folder | Unit:
        """Scan one ordinary folder; return it as a unit when its content says it is one."""
        here = real_rel if real_rel is not None else rel
        ancestors = ancestors | {here} if self.follow_links else ancestors
        listing = self.list_dir(path, rel, ancestors)
        names = frozenset([f[0] for f in listing.files] + [f.name for f in listing.linked])
        table_type = None
        if "table.info" in names:
            table_type = read_table_type(os.path.join(path, "table.info"))
        kind = classify_dir(DirFacts(frozenset(d[0] for d in listing.dirs), names, table_type))
        if kind is Kind.PLOTS and (name in self.plain_names or not rel):
            kind = None  # a qa2 folder full of qa2_part*.png is QA material, not calibration plots
        if kind is not None and not rel:
            raise InputError(f"origpath {path} is itself a {kind.value}; give the reduction folder that holds it")
        if kind is not None:
            return self._unit(name, rel, kind, table_type, listing, real_rel)
        folders: list[Folder] = []
        units: list[Unit] = []
        children = []
        for dir_name, dir_path, dir_real in sorted(listing.dirs):
            if dir_real is None and real_rel is not None:
                dir_real = f"{real_rel}/{dir_name}"
            children.append(_Child(dir_name, dir_path, f"{rel}/{dir_name}" if rel else dir_name, dir_real, ancestors))
        if len(children) >= 2 and self.may_share and hasattr(os, "fork"):
            scanned = self._scan_shared(children)
        else:
            scanned = [self.scan_folder(*child) for child in children]
        for child in scanned:
            if isinstance(child, Unit):
                units.append(child)
            else:
                folders.append(child)
        files = listing.entries()
        if real_rel is not None:  # inside a followed folder link: remember where the data really is
            files = [f if f.link_target else FileEntry(f.name, f.size, f"{real_rel}/{f.name}") for f in files]
        return Folder(name, rel, tuple(folders), tuple(units), tuple(files), real_rel=real_rel,
                      asdm_links=tuple(sorted(listing.asdm_links)))

    def _scan_shared(self, children: list[_Child]) -> list[Folder | Unit]:
        """Scan sibling folders here and in a forked helper (once per walk: the first folder with two).

        Listing and stat-ing are system calls that two processes make nearly twice as fast as one;
        the result, its notes and its owners are exactly those of a walk in one process.
        """
        self.may_share = False
        theirs = share([1] * len(children))
        helper = Helper([children[index] for index in theirs], self._scan_for_helper)
        found: dict[int, tuple[Folder | Unit, list[LinkNote], wire.Owners]] = {}
        reports: list[Report] = []
        try:
            for index, child in enumerate(children):
                if index not in theirs:
                    found[index] = self._scan_alone(child)
                    reports += helper.poll()  # a full pipe would stop the helper until it is read
            reports += helper.wait()  # if it died, what it left is scanned below
        except BaseException:
            helper.kill()
            raise
        for report in reports:
            if report.complete:
                found[theirs[report.job]] = wire.loads(report.payload)
        for number, _ in helper.left():  # what the helper could not scan (an error, most likely): here
            found[theirs[number]] = self._scan_alone(children[theirs[number]])
        scanned = []
        for index in range(len(children)):
            node, notes, owners = found[index]
            scanned.append(node)
            self.notes += notes
            for owner, sample in owners.items():
                self.owners.setdefault(owner, sample)
        return scanned

    def _scan_alone(self, child: _Child) -> tuple[Folder | Unit, list[LinkNote], wire.Owners]:
        """Scan one child with its own notes and owners (merged later, in the order of a plain walk)."""
        notes, owners = self.notes, self.owners
        self.notes, self.owners = [], {}
        try:
            return self.scan_folder(*child), self.notes, self.owners
        finally:
            self.notes, self.owners = notes, owners

    def _scan_for_helper(self, child: _Child, run: int) -> tuple[int, bool, bytes]:
        check_run(run)
        try:
            return 1, True, wire.dumps(*self._scan_alone(child))
        except Exception:  # noqa: BLE001 - the run scans it again and reports the error
            return 0, False, b""

    def _unit(self, name: str, rel: str, kind: Kind, table_type: str | None, listing: _Listing,
              real_rel: str | None) -> Unit:
        """List everything inside a unit (it is copied whole, so nothing in it is classified)."""
        files = listing.sized()
        dirs: list[str] = []
        stack = [(d[0], d[1]) for d in listing.dirs]
        while stack:
            inner, path = stack.pop()
            dirs.append(inner)
            sub = self.list_dir(path, f"{rel}/{inner}", None)
            prefix = inner + "/"
            files.extend((prefix + name, size) for name, size in sub.sized())
            stack.extend((prefix + d[0], d[1]) for d in sub.dirs)
        files.sort(key=itemgetter(0))  # paths are unique: comparing them alone is the same order, sooner
        dirs.sort()
        return Unit(name, rel, kind, tuple(files), tuple(dirs), table_type, real_rel)


def read_table_type(info_path: str) -> str | None:
    """Return the ``Type =`` value of a casacore ``table.info`` file (None if unreadable)."""
    try:
        with open(info_path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    return parse_table_type(head.decode("utf-8", "replace"))


def check_origpath(origpath: Path) -> str:
    """Return the real path of origpath, or raise one clear error why it cannot be packaged."""
    text = str(origpath)
    try:
        st = os.stat(text)
    except FileNotFoundError:
        raise InputError(f"origpath does not exist: {origpath}") from None
    except PermissionError:
        raise InputError(f"cannot read origpath {origpath}: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"origpath {origpath} is a symlink loop") from None
        raise InputError(f"cannot read origpath {origpath}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(f"origpath is not a folder: {origpath}")
    if not os.access(text, os.R_OK | os.X_OK):
        raise InputError(f"cannot read origpath {origpath}: permission denied")
    return os.path.realpath(text)


def scan_tree(origpath: Path, *, follow_links: bool = False, plain_names: Iterable[str] = ("qa2",)) -> Scan:
    """Walk origpath once and return the classified tree and every link not followed."""
    root = check_origpath(origpath)
    walker = _Walker(root, follow_links, frozenset(plain_names))
    top = walker.scan_folder(os.path.basename(root), root, "", None, frozenset())
    assert isinstance(top, Folder)  # the root is never returned as a unit
    return Scan(Path(root), top, tuple(walker.notes), tuple(sorted(walker.owners.values())))


def is_asdm(path: Path) -> bool:
    """Tell an ASDM folder by content (``ASDMBinary/`` or ``ASDM.xml``), following a link to one."""
    return path.is_dir() and ((path / "ASDMBinary").is_dir() or (path / "ASDM.xml").is_file())


def tree_size(path: Path) -> int:
    """Return the bytes of a file, or of every file below a folder (links counted, not followed)."""
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size
    return sum(size for _, is_dir, size in walk_listing(str(path), str(path)) if not is_dir)


def files_containing(paths: Iterable[Path], needle: bytes) -> set[Path]:
    """Return the paths whose content contains ``needle`` (scripts are small; read whole)."""
    found = set()
    for path in paths:
        try:
            if needle in path.read_bytes():
                found.add(path)
        except OSError:
            continue
    return found


def walk_listing(root: str, top: str) -> list[tuple[str, bool, int]]:
    """List everything below ``top`` as (root-relative path, is_dir, size), sorted (links not followed)."""
    listing: list[tuple[str, bool, int]] = []
    stack = [top]
    while stack:
        path = stack.pop()
        with os.scandir(path) as iterator:
            for entry in iterator:
                rel = os.path.relpath(entry.path, root).replace(os.sep, "/")
                if entry.is_dir(follow_symlinks=False):
                    listing.append((rel, True, 0))
                    stack.append(entry.path)
                else:
                    listing.append((rel, False, entry.stat(follow_symlinks=False).st_size))
    listing.sort()
    return listing


def read_package_state(packpath: Path, *, with_listing: bool = False, with_sizes: bool = False) -> PackageState:
    """Return what packpath holds: level folders, marker, and (on request) listings and sizes."""
    text = str(packpath)
    if not os.path.lexists(text):
        return PackageState()
    if not os.path.isdir(text) or os.path.islink(text):
        return PackageState(exists=True, is_dir=False)
    try:
        entries = tuple(sorted(os.listdir(text)))
    except OSError as exc:
        raise InputError(f"cannot read packpath {packpath}: {exc.strerror}") from None
    sgs = science_goals(packpath)
    if len(sgs) > 1:
        raise InputError(f"packpath {packpath} holds several science-goal folders ({', '.join(sgs)})")
    groups: list[tuple[str, tuple[str, ...]]] = []
    sizes: list[tuple[str, int]] = []
    listing: list[tuple[str, bool, int]] = []
    readmes: list[tuple[str, str]] = []
    ebs: list[tuple[str, tuple[str, ...]]] = []
    for group in list_groups(packpath):
        groups.append((group.name, tuple(member.name for member in group.members)))
        for member in group.members:
            if with_sizes or with_listing:
                member_listing = walk_listing(text, os.path.join(text, member.rel))
                sizes.append((member.rel, sum(size for _, _, size in member_listing)))
                ebs.append((member.rel, _eb_uids_of(member.rel, member_listing)))
                if with_listing:
                    listing += member_listing
            readme = os.path.join(text, readme_of(member.rel))
            if with_listing and os.path.isfile(readme):
                with open(readme, encoding="utf-8", errors="replace") as handle:
                    readmes.append((member.rel, handle.read()))
    return PackageState(
        exists=True,
        entries=entries,
        sg=sgs[0] if sgs else None,
        groups=tuple(groups),
        member_sizes=tuple(sizes),
        listing=tuple(listing),
        readmes=tuple(readmes),
        member_ebs=tuple(ebs),
    )


def _eb_uids_of(member_rel: str, listing: Iterable[tuple[str, bool, int]]) -> tuple[str, ...]:
    """Return the EB uids a packaged member holds: the uids its package folders' entries are named after."""
    depth = member_rel.count("/") + 2  # member/<package folder>/<name>
    uids = {leading_uid(path.rsplit("/", 1)[-1]) for path, _, _ in listing if path.count("/") == depth}
    return tuple(sorted(uid for uid in uids if uid))
