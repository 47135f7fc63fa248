"""Check a package or its delivery tars the way the archive's ingest does.

Both inputs are read into one :class:`PackageView` (paths below the project folder, sizes,
READMEs, md5s where computed); the same checks then run on either: layout, manifest
(missing / extra / corrupted), READMEs whose tree names only existing files, no links, no
empty tars, md5 sidecars, real uids everywhere when asked for, and a ``script/`` folder that
``scriptForPI.py`` can use.
"""

from __future__ import annotations

import logging
import os
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from functools import partial
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import IO, Any, NamedTuple

from ..core.codes import Code
from ..core.config import DEFAULT_CONFIG, FOLDER_KEYS, Config
from ..core.errors import InputError
from ..core.leftovers import leave
from ..core.naming import (
    PIPELINE_MANIFEST_GLOBS,
    PPR_GLOBS,
    calibration_script_uid,
    matches,
    named_folder,
)
from ..core.record import field, record
from ..formats.manifest import (
    Manifest,
    files_to_hash,
    forks_helper,
    hash_files_with_sizes,
    manifest_path,
    parse_md5sum,
    read_manifest,
    runs_key,
)
from ..formats.md5runs import CHUNK, new_md5
from ..planning.readme import parse_tree
from ..run.lock import RunLock, Want
from ..run.progress import Progress, SilentProgress, counted
from . import ahead
from .ingest import archive_readme_member, has_tree_lines, missing_names, tar_name_problem, unreadable_name
from .layout import (
    AUXILIARY_RE,
    LEVELS,
    MARKER,
    MD5SUMS,
    PART_RE,
    README_NAME,
    Position,
    archive_recognises,
    is_project_code,
    is_readme,
    member_of,
    members_of,
    package_folder_of,
    position_of,
    science_goals,
)

log = logging.getLogger(__name__)
# scriptForPI.py finds these by glob in script/; each must match at most once.
UNIQUE_SCRIPT_GLOBS = (
    ("*casa_piperestorescript.py",),
    ("*casa_pipescript.py",),
    PPR_GLOBS,
    PIPELINE_MANIFEST_GLOBS,
)


class ProblemKind(Code):
    """What verify found wrong."""

    MISSING = "missing"  # named by the manifest or the tar set, not there
    EXTRA = "extra"  # there, named by neither the layout nor the manifest
    CORRUPTED = "corrupted"  # a size or checksum differs, or a tar cannot be read
    LAYOUT = "layout"  # the package tree is not a finished package
    INGEST = "ingest"  # the archive's ingest or scriptForPI.py would refuse it


@record
class Problem:
    """One thing wrong, where, and in words."""

    kind: ProblemKind
    path: str
    message: str


@record(frozen=False)
class PackageView:
    """A package as verify sees it, from a folder or from tars; paths are below the project folder."""

    project: str
    files: dict[str, int] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    readmes: dict[str, str] = field(default_factory=dict)  # member folder -> README text
    md5: dict[str, str] = field(default_factory=dict)
    tars: list[TarFacts] = field(default_factory=list)


@record(frozen=False)
class TarFacts:
    """What the archive's ingest looks at in one tar: its member names and the README it would read."""

    name: str
    names: list[str] = field(default_factory=list)  # member names below the project folder, in tar order
    readme: str | None = None  # the text of the README the archive reads, when it is a member README


@record(frozen=False)
class VerifyReport:
    """Everything verify checked and found."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    tars: int = 0
    checksums: int = 0  # of the files inside
    tar_checksums: int = 0  # of the tars, against their sidecars
    notes: list[str] = field(default_factory=list)
    absent_members: set[str] = field(default_factory=set)  # members of the manifest no tar holds
    tar_md5: dict[str, str] = field(default_factory=dict)  # tar name -> md5 computed while reading it

    @property
    def ok(self) -> bool:
        """Whether the package (or the tars) passed every check."""
        return not self.problems

    def counts(self) -> dict[str, int]:
        """Problems by kind."""
        out: dict[str, int] = defaultdict(int)
        for problem in self.problems:
            out[problem.kind.value] += 1
        return dict(out)

    def grouped(self, limit: int = 3) -> list[tuple[str, str, str]]:
        """Return the problems for the terminal: one line per member and kind when a member has many.

        A member in none of the tars, or a whole folder gone, is one line with its count; every
        path is still in :attr:`problems` (``-v`` and ``--json`` show them all).
        """
        by_member: dict[tuple[ProblemKind, str], list[Problem]] = defaultdict(list)
        for problem in self.problems:
            by_member[(problem.kind, member_of(problem.path) or "")].append(problem)
        lines = []
        for (kind, member), found in by_member.items():
            if not member or len(found) <= limit:
                lines += [(p.kind.value, p.path, p.message) for p in found]
                continue
            absent = kind is ProblemKind.MISSING and member in self.absent_members
            what = "the member is in none of the tars" if absent else found[0].message
            lines.append((kind.value, member, f"{len(found)} files ({what}; -v lists them)"))
        return lines

    def summary(self) -> str:
        """One sentence for the terminal."""
        checked = counted(self.files, "file") + (f" in {counted(self.tars, 'tar')}" if self.tars else "")
        if self.ok:
            compared = counted(self.checksums, "file checksum")
            if self.tar_checksums:
                compared += f" and {counted(self.tar_checksums, 'tar checksum')}"
            return f"OK: {self.source}: {checked}, {compared} compared, every check passed"
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts().items()))
        return f"FAILED: {self.source}: {checked}: {kinds}"

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``verify --json``)."""
        return {
            "source": self.source,
            "ok": self.ok,
            "summary": self.summary(),
            "files": self.files,
            "tars": self.tars,
            "checksums": self.checksums,
            "tar_checksums": self.tar_checksums,
            "counts": self.counts(),
            "problems": [{"kind": p.kind.value, "path": p.path, "message": p.message} for p in self.problems],
            "grouped": [{"kind": kind, "path": path, "message": message} for kind, path, message in self.grouped()],
            "notes": self.notes,
        }


# -- reading -------------------------------------------------------------------------------------


def view_from_folder(packpath: Path, sized_later: Container[str] = ()) -> PackageView:
    """Walk a package folder (the listing's file types, one stat per file for its size); READMEs are read, data are not.

    Files in ``sized_later`` are not stat'ed (their size is -1): the caller hashes them, which
    tells their size for less than a stat costs.
    """
    if not packpath.is_dir():
        raise InputError(f"not a package folder: {packpath}")
    view = PackageView(packpath.name)
    folders = [(str(packpath), "")]
    while folders:
        path, prefix = folders.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                rel = prefix + entry.name
                if entry.is_symlink():
                    view.links.append(rel)
                elif entry.is_dir(follow_symlinks=False):
                    view.dirs.add(rel)
                    folders.append((entry.path, rel + "/"))
                else:
                    view.files[rel] = -1 if rel in sized_later else entry.stat(follow_symlinks=False).st_size
                    if entry.name == README_NAME and is_readme(rel):
                        view.readmes[rel.rsplit("/", 1)[0]] = Path(entry.path).read_text(encoding="utf-8", errors="replace")
    return view


class HashingReader:
    """A read-only file object that md5-sums everything read through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = new_md5()

    def read(self, size: int = -1) -> bytes:
        """Read and hash."""
        data = self._handle.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        """Read (and hash) whatever the tar reader left: end blocks and record padding."""
        while self.read(CHUNK):
            pass


def read_tar_into(view: PackageView, tar_path: Path, problems: list[Problem], hash_members: bool) -> tuple[str, int]:
    """Stream one tar into the view (safety checks on every member); return (md5, file count)."""
    import tarfile  # only verifying tars needs it: a package folder's verify does not load it

    project = view.project
    count = 0
    facts = TarFacts(tar_path.name)
    view.tars.append(facts)
    with open(tar_path, "rb") as raw:
        reader = HashingReader(raw)
        try:
            with tarfile.open(fileobj=reader, mode="r|", encoding="utf-8", errors="surrogateescape") as tar:  # type: ignore[call-overload]
                for member in tar:
                    name = member.name.rstrip("/")
                    if name.startswith("/") or ".." in name.split("/"):
                        problems.append(Problem(ProblemKind.INGEST, f"{tar_path.name}:{name}",
                                                "member path leaves the project folder"))
                        continue
                    if name != project and not name.startswith(project + "/"):
                        problems.append(Problem(ProblemKind.LAYOUT, f"{tar_path.name}:{name}",
                                                f"member is not below the top entry {project}/"))
                        continue
                    rel = name[len(project) + 1:]
                    facts.names.append(name)
                    if member.issym() or member.islnk():
                        view.links.append(rel)
                    elif member.isdir():
                        if rel:
                            view.dirs.add(rel)
                    elif member.isfile():
                        count += 1
                        view.files[rel] = member.size
                        handle = tar.extractfile(member)
                        assert handle is not None
                        digest = new_md5()
                        data = b""
                        while block := handle.read(CHUNK):
                            if hash_members:
                                digest.update(block)
                            if is_readme(rel):
                                data += block
                        if hash_members:
                            view.md5[rel] = digest.hexdigest()
                        if is_readme(rel):
                            view.readmes[rel.rsplit("/", 1)[0]] = data.decode("utf-8", "replace")
                            if archive_readme_member(facts.names) == name:
                                facts.readme = view.readmes[rel.rsplit("/", 1)[0]]
                    else:
                        problems.append(Problem(ProblemKind.INGEST, f"{tar_path.name}:{name}",
                                                "device, fifo or other special member"))
        except tarfile.TarError as exc:
            problems.append(Problem(ProblemKind.CORRUPTED, tar_path.name, f"not a readable tar file: {exc}"))
        reader.drain()
    return reader.digest.hexdigest(), count


# -- checks --------------------------------------------------------------------------------------


def check_layout(view: PackageView, config: Config = DEFAULT_CONFIG, expect_uids: bool = False,
                 from_tars: bool = False) -> list[Problem]:
    """Check the package tree: level folders, known member folders, no links, nothing half-written."""
    problems = [Problem(ProblemKind.INGEST, rel, "symbolic link (the archive rejects packages with links)") for rel in view.links]
    folders = {config.folder(key) for key in FOLDER_KEYS}
    level_dirs: list[tuple[str, int]] = []
    extra: list[str] = []
    # Everything four folders down is inside a package folder, and so in the layout (or inside
    # something reported): only the paths above it are judged.
    for rel in sorted([rel for rel in (*view.dirs, *view.files) if rel.count("/") < 4]):
        if extra and any(rel.startswith(e + "/") for e in extra):
            continue  # inside something already reported
        if rel == MARKER:
            if not from_tars:
                problems.append(Problem(ProblemKind.LAYOUT, rel, "an interrupted run left this package incomplete"))
            continue
        position, level = position_of(rel, rel in view.dirs, folders)
        if position is Position.LEVEL_FOLDER:
            level_dirs.append((rel, level))
        elif position is Position.OUTSIDE:
            extra.append(rel)
            problems.append(Problem(ProblemKind.EXTRA, rel, "not part of the package layout"))
    real_uids = expect_uids or any(rel.split("/")[-1].startswith(LEVELS[d].prefix) for rel, d in level_dirs)
    for rel, depth in level_dirs:
        name = rel.split("/")[-1]
        if real_uids and not LEVELS[depth].has_uid(name):
            problems.append(Problem(ProblemKind.INGEST, rel, f"placeholder folder name {name} where real uids are used"))
    for rel, depth in level_dirs:
        if depth == 2 and rel not in view.readmes:
            problems.append(Problem(ProblemKind.INGEST, f"{rel}/README", "member folder without README"))
    return problems


def check_readmes(view: PackageView) -> list[Problem]:
    """Every README's tree must name only files and folders that the package holds, by names the archive reads."""
    problems = []
    present = view.dirs | set(view.files)
    for member, text in sorted(view.readmes.items()):
        where = f"{member}/README"
        parsed = parse_tree(text)
        if parsed is None or not has_tree_lines(text):
            problems.append(Problem(ProblemKind.INGEST, where, "README holds no package tree in the archive's layout (lines "
                                                     "beginning with '|', ending 'N directories, M files')"))
            continue
        root, paths, _ = parsed
        if root != view.project:
            problems.append(Problem(ProblemKind.INGEST, where,
                                    f"README tree starts at {root}, not at the project {view.project}"))
            continue
        for path in paths:
            if path not in present:
                problems.append(Problem(ProblemKind.INGEST, where, f"README lists {path}, which the package does not hold"))
            elif unreadable_name(path.rsplit("/", 1)[-1]):
                problems.append(Problem(ProblemKind.INGEST, where, f"README lists {path}: the archive reads that line without "
                                                         "its spaces, non-ASCII characters, '|', '`' or '--' and "
                                                         "refuses the tar; rename it"))
    return problems


def check_archive_readmes(view: PackageView) -> tuple[list[Problem], list[str]]:
    """Apply the archive's README rule to each tar (or to each member of a folder): problems and notes.

    The archive reads the last member named ``*README*`` and looks for every name of its tree in
    the same tar.  A Cycle 0 project code is not one it stops at, so it is only noted here.
    """
    if not archive_recognises(view.project):
        what = "Cycle 0 project codes" if is_project_code(view.project) else f"{view.project} as a project code"
        return [], [f"{view.project}: the archive's automatic ingest does not recognise {what}; its README check "
                    "was not applied"]
    problems: list[Problem] = []
    units: list[tuple[str, list[str], str | None, str | None]] = []
    if view.tars:
        units = [(t.name, t.names, t.readme, archive_readme_member(t.names)) for t in view.tars]
    else:  # a folder: each member is what its tar will hold: its folders from the top, and all inside it
        present = view.dirs | view.files.keys()
        paths = sorted(present)
        for member, readme_text in sorted(view.readmes.items()):
            parts = member.split("/")
            above = [p for p in ("/".join(parts[:depth]) for depth in range(1, len(parts) + 1)) if p in present]
            inside = paths[bisect_left(paths, member + "/"):bisect_left(paths, member + "0")]  # "0" follows "/"
            names = [view.project] + [f"{view.project}/{p}" for p in above + inside]
            units.append((f"{member}/README", names, readme_text, f"{view.project}/{member}/README"))
    for where, names, text, readme_member in units:
        if AUXILIARY_RE.match(where) or not names:
            continue  # the auxiliary tar carries no README; the archive delivers it beside the products
        if readme_member is None:
            problems.append(Problem(ProblemKind.INGEST, where, "no README in this tar (the archive refuses it)"))
            continue
        if text is None:
            problems.append(Problem(ProblemKind.INGEST, where, f"the archive would read {readme_member} as the README (the "
                                                     "last member whose name contains README)"))
            continue
        missing = missing_names(text, names)
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            problems.append(Problem(ProblemKind.INGEST, where, f"the archive reads {shown} from the README, which this tar "
                                                     "does not hold"))
    return problems, []


def check_scripts(view: PackageView, config: Config = DEFAULT_CONFIG) -> list[Problem]:
    """scriptForPI.py's globs in each script/ folder must find at most one file each."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for rel in view.files:
        if rel.count("/") == 4 and package_folder_of(rel) == config.script:
            folder, name = rel.rsplit("/", 1)
            by_folder[folder].append(name)
    problems = []
    for folder, names in sorted(by_folder.items()):
        for globs in UNIQUE_SCRIPT_GLOBS:
            found = sorted(n for n in names if matches(n, globs))
            if len(found) > 1:
                problems.append(Problem(ProblemKind.INGEST, folder, f"{' / '.join(globs)} matches {len(found)} files "
                                                          f"({', '.join(found)}); scriptForPI.py needs one"))
        per_eb: dict[str, list[str]] = defaultdict(list)
        for name in names:
            uid = calibration_script_uid(name)
            if uid:
                per_eb[uid].append(name)
        for uid, found in sorted(per_eb.items()):
            if len(found) > 1:
                listed = ", ".join(sorted(found))
                problems.append(Problem(ProblemKind.INGEST, folder, f"{len(found)} calibration scripts for {uid}: {listed}"))
    return problems


def check_against_manifest(view: PackageView, manifest: Manifest, scope: Iterable[str] | None = None,
                           sizes: bool = True) -> tuple[list[Problem], int]:
    """Compare the view with the manifest: missing, extra and corrupted files; return (problems, md5s compared)."""
    prefixes = tuple(f"{s}/" for s in scope) if scope is not None else None

    def in_scope(rel: str) -> bool:
        return prefixes is None or rel.startswith(prefixes)

    expected = manifest.entries if prefixes is None else {
        rel: entry for rel, entry in manifest.entries.items() if rel.startswith(prefixes)}
    if _all_agree(view, expected, sizes):
        return [], len(view.md5)
    problems = []
    compared = 0
    for rel in sorted(expected.keys() - view.files.keys()):
        problems.append(Problem(ProblemKind.MISSING, rel, "in the manifest, not in the package"))
    for rel in sorted(view.files.keys() - expected.keys()):
        if in_scope(rel) and rel != MARKER:
            problems.append(Problem(ProblemKind.EXTRA, rel, "in the package, not in the manifest"))
    differing = []  # in any order here, sorted below: almost always empty
    for rel in expected.keys() & view.files.keys():
        size, md5 = expected[rel]
        if sizes and view.files[rel] != size:
            differing.append(Problem(ProblemKind.CORRUPTED, rel, f"size {view.files[rel]}, the manifest says {size}"))
        elif md5 is not None and rel in view.md5:
            compared += 1
            if view.md5[rel] != md5:
                differing.append(Problem(ProblemKind.CORRUPTED, rel, f"md5 {view.md5[rel]}, the manifest says {md5}"))
    return problems + sorted(differing, key=attrgetter("path")), compared


def _all_agree(view: PackageView, expected: Mapping[str, tuple[int, str | None]], sizes: bool) -> bool:
    """Tell, without a loop in Python, that the view and the manifest agree (as they nearly always do).

    Same paths; the same sizes (if compared); and each md5 of the view the one the manifest has.
    """
    if expected.keys() != view.files.keys():
        return False
    if sizes and dict(zip(expected, map(itemgetter(0), expected.values()))) != view.files:
        return False
    return view.md5.items() <= dict(zip(expected, map(itemgetter(1), expected.values()))).items()


# -- entry points ------------------------------------------------------------------------------------


def _load_manifest(path: Path | None, fake_ok: bool, report: VerifyReport) -> tuple[Manifest | None, bool]:
    """Return the manifest and whether sizes are comparable (not in fake/ticket packages)."""
    if path is None or not path.exists():
        report.notes.append("no manifest: files were not compared with one (layout and ingest checks only)")
        return None, True
    manifest = read_manifest(path)
    mode = manifest.meta.get("mode", "")
    if mode in ("fake", "ticket"):
        if not fake_ok:
            report.problems.append(Problem(ProblemKind.INGEST, path.name, f"made in {mode} mode: the files are empty "
                                                                "placeholders, not a deliverable package (--fake-ok "
                                                                "checks the names only)"))
        return manifest, False
    return manifest, True


def verify_package(packpath: Path, manifest: Path | None = None, config: Config = DEFAULT_CONFIG,
                   checksums: bool = True, expect_uids: bool = False, fake_ok: bool = False,
                   progress: Progress | None = None, wait: bool = False) -> VerifyReport:
    """Verify a package folder against its manifest and the ingest checks (holding it shared)."""
    packpath = named_folder(packpath)
    with RunLock([Want(packpath, exclusive=False)], "verify", wait, on_wait=log.warning):
        return _verify_package(packpath, manifest, config, checksums, expect_uids, fake_ok, progress)


def _verify_package(packpath: Path, manifest: Path | None, config: Config, checksums: bool, expect_uids: bool,
                    fake_ok: bool, progress: Progress | None) -> VerifyReport:
    """Hash the files the manifest lists while the folder is read and checked, on two processes.

    The second process is the child that began hashing when the program started, if there is one
    for these files (:mod:`qa2pack.delivery.ahead`); it is stopped before the lock is released.
    """
    early = ahead.take(str(packpath))
    try:
        return _verify_with_hashes(packpath, manifest, config, checksums, expect_uids, fake_ok, progress, early)
    finally:
        if early is not None:
            early.close()


def _verify_with_hashes(packpath: Path, manifest: Path | None, config: Config, checksums: bool, expect_uids: bool,
                        fake_ok: bool, progress: Progress | None, early: ahead.HashAhead | None) -> VerifyReport:
    report = VerifyReport(str(packpath))
    loaded, sizes = _load_manifest(manifest or manifest_path(packpath), fake_ok, report)
    if loaded is None or not (checksums and sizes):
        if early is not None:
            early.close()  # now: nothing to hash, it would only take a core from the checks
        view = view_from_folder(packpath)
        if not view.files and loaded is None:
            raise InputError(f"{packpath} holds no files and has no manifest: not a package, nothing to verify")
        _check_view(view, report, loaded, sizes, config, expect_uids, from_tars=False)
        return report
    listed, pairs = files_to_hash(loaded, str(packpath))
    key = runs_key(loaded, str(packpath), ahead.WORKERS)
    adopt = partial(early.adopt, key) if early is not None and key and forks_helper(len(pairs), ahead.WORKERS) else None
    if early is not None and adopt is None:
        early.close()  # now: hashing on threads, it would only take a core from them
    seen: list[tuple[PackageView, ContentChecks, dict[str, tuple[str | None, int]]]] = []

    def read_and_check() -> dict[str, int]:  # while the hashing starts; only files present are hashed
        view = view_from_folder(packpath, sized_later=listed)
        seen.append((view, content_checks(view, config, expect_uids, from_tars=False), _expected_hashes(loaded, listed)))
        return view.files

    progress = progress or SilentProgress()
    progress.start(f"verify: md5 of {packpath.name}", sum(listed.values()), len(listed))
    try:
        hashed = hash_files_with_sizes(pairs, workers=ahead.WORKERS, advance=progress.advance, sizes=listed,
                                       meanwhile=read_and_check, adopt=adopt)
    finally:
        progress.finish()
    view, content, expected = seen[0]
    whole = hashed == expected and _others_agree(view, loaded, listed)  # nearly always: nothing to compare one by one
    if not whole:
        view.md5 = dict(zip(hashed, map(itemgetter(0), hashed.values())))
        view.files.update(zip(hashed, map(itemgetter(1), hashed.values())))
    _check_view(view, report, loaded, sizes, config, expect_uids, from_tars=False, content=content,
                against=([], len(hashed)) if whole else None)
    leave(loaded, listed, pairs, hashed, seen)
    return report


def _expected_hashes(manifest: Manifest, listed: Mapping[str, int]) -> dict[str, tuple[str | None, int]]:
    """Return the listed files' (md5, size) as the manifest has them: what hashing them must find."""
    entries = manifest.entries
    return {rel: (entries[rel][1], size) for rel, size in listed.items()}


def _others_agree(view: PackageView, manifest: Manifest, listed: Mapping[str, int]) -> bool:
    """Tell whether the package holds the manifest's files, no others, and those not hashed have its sizes."""
    entries = manifest.entries
    return view.files.keys() == entries.keys() and \
        all(view.files[rel] == entries[rel][0] for rel in entries.keys() - listed.keys())


class ContentChecks(NamedTuple):
    """What the checks that need no checksum found: layout problems, then the others, and notes."""

    layout: list[Problem]
    others: list[Problem]
    notes: list[str]


def content_checks(view: PackageView, config: Config, expect_uids: bool, from_tars: bool) -> ContentChecks:
    """Run the layout, README and script checks (none needs a checksum)."""
    archive_problems, notes = check_archive_readmes(view)
    return ContentChecks(check_layout(view, config, expect_uids, from_tars),
                         check_readmes(view) + archive_problems + check_scripts(view, config), notes)


def _check_view(view: PackageView, report: VerifyReport, manifest: Manifest | None, sizes: bool, config: Config,
                expect_uids: bool, from_tars: bool, content: ContentChecks | None = None,
                against: tuple[list[Problem], int] | None = None) -> None:
    """Run every check on a package view, from a folder or from tars, into the report.

    ``against`` is the comparison with the manifest (problems, md5s compared), where the caller made it already.
    """
    content = content or content_checks(view, config, expect_uids, from_tars)
    report.files = len(view.files)
    report.problems += content.layout
    if manifest is not None:
        # With a manifest, the tars must hold all of it: a member in none of them is missing too.
        problems, compared = against or check_against_manifest(view, manifest, sizes=sizes)
        report.problems += problems
        report.checksums += compared
        if not manifest.entries.keys() <= view.files.keys():  # with every file present, every member is
            report.absent_members = members_of(manifest.entries) - members_of(view.files)
    report.problems += content.others
    report.notes += content.notes


def verify_tars(tars: Sequence[Path], manifest: Path | None = None, config: Config = DEFAULT_CONFIG,
                expect_uids: bool = False, fake_ok: bool = False, progress: Progress | None = None,
                wait: bool = False) -> VerifyReport:
    """Verify delivery tars: sidecars, safety, completeness of each set, content and ingest checks.

    The tars' folders are held shared, so a tarsplit into them cannot be half seen.
    """
    if not tars:
        raise InputError("no tar files given")
    folders = sorted({Path(os.path.abspath(t)).parent for t in tars})
    with RunLock([Want(folder, exclusive=False) for folder in folders], "verify", wait, on_wait=log.warning):
        return _verify_tars(tars, manifest, config, expect_uids, fake_ok, progress)


def _verify_tars(tars: Sequence[Path], manifest: Path | None, config: Config, expect_uids: bool, fake_ok: bool,
                 progress: Progress | None) -> VerifyReport:
    report = VerifyReport(", ".join(t.name for t in tars[:3]) + (", ..." if len(tars) > 3 else ""))
    report.tars = len(tars)
    loaded, sizes = _load_manifest(manifest, fake_ok, report)
    projects = set()
    sets: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for tar in tars:
        match = PART_RE.match(tar.name)
        name_problem = tar_name_problem(tar.name)
        if name_problem:
            report.problems.append(Problem(ProblemKind.INGEST, tar.name, name_problem))
        if match:
            sets[match["set"]].add((int(match["m"]), int(match["n"])))
        projects.add(tar.name.split("_")[0])
    if len(projects) != 1:
        raise InputError(f"the tars belong to several projects ({', '.join(sorted(projects))}); verify one at a time")
    view = PackageView(projects.pop())
    progress = progress or SilentProgress()
    progress.start("verify: reading tars", sum(t.stat().st_size for t in tars if t.exists()), len(tars))
    for tar in tars:
        if not tar.is_file():
            report.problems.append(Problem(ProblemKind.MISSING, tar.name, "tar file does not exist"))
            continue
        if tar.stat().st_size == 0:
            report.problems.append(Problem(ProblemKind.INGEST, tar.name, "empty tar file (the archive refuses it)"))
            continue
        md5, count = read_tar_into(view, tar, report.problems, hash_members=loaded is not None)
        report.tar_md5[tar.name] = md5
        if count == 0:
            report.problems.append(Problem(ProblemKind.INGEST, tar.name, "tar holds no files"))
        _check_sidecar(tar, md5, report)
        progress.advance(1, tar.stat().st_size)
    progress.finish()
    for name, numbers in sorted(sets.items()):
        totals = {n for _, n in numbers}
        if len(totals) > 1:
            report.problems.append(Problem(ProblemKind.LAYOUT, name, f"parts disagree on the total ({sorted(totals)})"))
        for number in range(1, max(totals) + 1):
            if (number, max(totals)) not in numbers:
                report.problems.append(Problem(ProblemKind.MISSING, f"{name}_{number:03d}_of_{max(totals):03d}.tar",
                                               "part of the set is missing"))
    _check_view(view, report, loaded, sizes, config, expect_uids, from_tars=True)
    return report


def _check_sidecar(tar: Path, md5: str, report: VerifyReport) -> None:
    sidecar = tar.with_name(tar.name + ".md5sum")
    if not sidecar.is_file():
        report.problems.append(Problem(ProblemKind.MISSING, sidecar.name, "no md5 sidecar for this tar"))
        return
    recorded = parse_md5sum(sidecar.read_text(encoding="utf-8", errors="replace")).get(tar.name)
    if recorded is None:
        report.problems.append(Problem(ProblemKind.CORRUPTED, sidecar.name, f"does not name {tar.name}"))
    elif recorded != md5:
        report.problems.append(Problem(ProblemKind.CORRUPTED, tar.name, f"md5 {md5}, the sidecar says {recorded}"))
    else:
        report.tar_checksums += 1


def is_delivery(folder: Path) -> bool:
    """Tell a folder made by ``deliver`` (tars and md5sums.txt, no package tree) from a package folder."""
    return folder.is_dir() and not science_goals(folder) and ((folder / MD5SUMS).is_file() or any(folder.glob("*.tar")))


def verify_delivery(dest: Path, manifest: Path | None = None, config: Config = DEFAULT_CONFIG,
                    expect_uids: bool = False, fake_ok: bool = False, progress: Progress | None = None,
                    wait: bool = False) -> VerifyReport:
    """Verify a folder made by ``deliver``: its tars as a set, md5sums.txt against them, nothing else in it."""
    dest = Path(dest)
    tars = sorted(dest.glob("*.tar"))
    if not tars:
        raise InputError(f"{dest} holds no tar files")
    report = verify_tars(tars, manifest, config, expect_uids, fake_ok, progress, wait)
    report.source = str(dest)
    md5sums = dest / MD5SUMS
    if not md5sums.is_file():
        report.problems.append(Problem(ProblemKind.MISSING, MD5SUMS, "the delivery's list of md5s is missing"))
    else:
        listed = parse_md5sum(md5sums.read_text(encoding="utf-8", errors="replace"))
        for tar in tars:
            if tar.name not in listed:
                report.problems.append(Problem(ProblemKind.MISSING, f"{MD5SUMS}:{tar.name}",
                                               "md5sums.txt does not name this tar"))
            elif listed[tar.name] != report.tar_md5.get(tar.name, listed[tar.name]):
                report.problems.append(Problem(ProblemKind.CORRUPTED, tar.name, f"md5 {report.tar_md5[tar.name]}, md5sums.txt "
                                                                      f"says {listed[tar.name]}"))
        for name in sorted(set(listed) - {t.name for t in tars}):
            report.problems.append(Problem(ProblemKind.MISSING, name, "named in md5sums.txt, not in the delivery"))
    known = {t.name for t in tars} | {f"{t.name}.md5sum" for t in tars} | {MD5SUMS}
    for entry in sorted(dest.iterdir()):
        if entry.name not in known and not entry.name.endswith(".ticket.zip"):
            report.problems.append(Problem(ProblemKind.EXTRA, entry.name, "not part of a delivery (tars, their md5 sidecars, "
                                                                 "md5sums.txt and the ticket)"))
    return report
