"""Plain data shared by every stage: what was found, what will be done, and why.

The scan (``probe``) produces :class:`Folder`/:class:`Unit` trees; the planner turns them into
a :class:`Plan` of :class:`Action` items.  Everything here is immutable and comparable so
that ``inspect``, ``fake`` and the real modes share one code path and tests can assert on a
plan without touching the disk.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from operator import itemgetter
from pathlib import Path, PurePosixPath
from typing import NamedTuple, TypeVar

from .codes import Code
from .errors import UsageError
from .record import field, record


class Kind(str, Enum):
    """What a scanned path is, decided by its content."""

    ASDM = "ASDM"
    MS = "MS"
    CALTABLE = "caltable"
    IMAGE = "CASA image"
    FLAGVERSIONS = "flag versions"
    TABLE = "CASA table"
    PLOTS = "plot folder"
    FOLDER = "folder"
    FILE = "file"
    LINK = "symbolic link"


class Mode(str, Enum):
    """How files reach packpath."""

    FAKE = "fake"
    COPY = "copy"
    HARD = "hard"
    MOVE = "move"
    TICKET = "ticket"
    MANIMGONLY = "manimgonly"

    @classmethod
    def parse(cls, text: str) -> Mode:
        """Return the mode named ``text`` or raise a :class:`UsageError` listing the valid ones."""
        return _parse_choice(cls, text, f"unknown mode {text!r}; valid modes: {', '.join(m.value for m in cls)}")


class Append(str, Enum):
    """What happens to an existing package in packpath."""

    REPLACE = ""
    GROUP = "group"
    MEMBER = "member"
    PRODUCT = "product"

    @classmethod
    def parse(cls, text: str) -> Append:
        """Return the append mode named ``text`` or raise a :class:`UsageError`."""
        return _parse_choice(cls, text, f"unknown append value {text!r}; valid values: '' (replace), group, member, product")


_E = TypeVar("_E", bound=Enum)


def _parse_choice(cls: type[_E], text: str, message: str) -> _E:
    try:
        return cls(text)
    except ValueError:
        raise UsageError(message) from None


_STYLE_RE = re.compile(r"cycle(?P<n>\d+)(?:-(?P<suffix>nopipe|pipe1|pipe))?")
STYLE_FORMS = (
    "'' (default: --noms decides)",
    "cycle0",
    "cycle0-nopipe",
    "cycle1",
    "cycle1-nopipe",
    "cycleN-nopipe",
    "cycle2-pipe1",
    "cycleN-pipe",
    "cycleN-pipe1 (N >= 2)",
)


@record
class Style:
    """The one-stop cycle switch: whether MSs are packaged and pipeline products searched."""

    text: str = ""
    include_ms: bool | None = None  # None: the explicit noms parameter decides
    pipeline: bool = False

    @classmethod
    def parse(cls, text: str) -> Style:
        """Parse a style name such as ``cycle4-pipe``; anything unknown is a usage error."""
        if text == "":
            return cls()
        match = _STYLE_RE.fullmatch(text)
        if match:
            cycle, suffix = int(match["n"]), match["suffix"]
            if cycle == 0 and suffix in (None, "nopipe"):
                return cls(text, include_ms=True)
            if cycle == 1 and suffix in (None, "nopipe"):
                return cls(text, include_ms=False)
            if cycle >= 2 and suffix == "nopipe":
                return cls(text, include_ms=False)
            if cycle >= 2 and suffix in ("pipe", "pipe1"):
                return cls(text, include_ms=False, pipeline=True)
        raise UsageError(f"unknown style {text!r}; valid styles: {', '.join(STYLE_FORMS)}")


class FileEntry(NamedTuple):
    """A regular file (or a followed link to one) directly inside a scanned folder."""

    name: str
    size: int
    link_target: str | None = None  # origpath-relative target when the entry is a symlink


class LinkNote(NamedTuple):
    """A symbolic link that was not followed, and why."""

    rel: str
    target: str
    reason: str
    asdm: bool = False  # a link to an ASDM: it marks its folder as an EB folder
    outside: bool = False  # a link to something outside origpath


@record
class Unit:
    """A folder copied whole: a CASA table, an ASDM or a plot folder.

    ``files`` and ``dirs`` are POSIX paths relative to the unit, sorted, so that a unit can be
    recreated (or faked) without another walk.
    """

    name: str
    rel: str
    kind: Kind
    files: tuple[tuple[str, int], ...]
    dirs: tuple[str, ...] = ()
    table_type: str | None = None
    real_rel: str | None = None  # origpath-relative real path when reached through a link

    @property
    def size(self) -> int:
        """Total bytes of the files inside the unit."""
        return sum(size for _, size in self.files)


@record
class Folder:
    """An ordinary folder of the reduction tree, with everything classified below it."""

    name: str
    rel: str
    folders: tuple[Folder, ...] = ()
    units: tuple[Unit, ...] = ()
    files: tuple[FileEntry, ...] = ()
    real_rel: str | None = None  # origpath-relative real path when reached through a link
    asdm_links: tuple[str, ...] = ()  # links to ASDMs, not followed (as qa2pack workspace start makes them)

    def walk(self) -> list[Folder]:
        """Return this folder and every folder below it, parents first, in scan order."""
        out: list[Folder] = []
        stack = [self]
        while stack:
            folder = stack.pop()
            out.append(folder)
            stack.extend(reversed(folder.folders))
        return out


@record
class Scan:
    """Everything the probe learned about origpath in one walk."""

    root: Path
    tree: Folder
    links: tuple[LinkNote, ...] = ()  # every symbolic link (or special file) not followed
    owner_samples: tuple[str, ...] = ()  # one file per (owner, device): what a hard-link preflight tries


class Op(str, Enum):
    """What the executor does for an action."""

    TRANSFER = "transfer"  # a file or a whole unit, in the run's mode
    ARCHIVE = "archive"  # several sources into one .tgz (gzip_caltables)
    TEXT = "text"  # generated text (README)


@record
class Action:
    """One thing that will exist in the package, where it comes from, and why.

    ``target`` is relative to packpath.  For a unit, ``files``/``dirs`` list its content
    relative to ``target``; a single file has ``files == (("", size),)``.
    """

    target: PurePosixPath
    kind: Kind
    rule: str
    source: str | None = None  # origpath-relative POSIX path; None for generated text
    files: tuple[tuple[str, int], ...] = ()
    dirs: tuple[str, ...] = ()
    eb_uid: str | None = None
    op: Op = Op.TRANSFER
    text: str | None = None
    parts: tuple[Action, ...] = ()  # the actions packed into an archive
    link_target: str | None = None
    origin_root: Path | None = None  # where source lives when it is not in origpath (PI script)
    # Bytes this action puts into the package (an archive counts its parts uncompressed); summed
    # once here, as planning, progress and the report all ask for it.
    size: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op is Op.TEXT:
            size = len((self.text or "").encode())
        elif self.op is Op.ARCHIVE:
            size = sum(part.size for part in self.parts)
        else:
            size = sum(map(itemgetter(1), self.files))
        object.__setattr__(self, "size", size)

    @property
    def is_tree(self) -> bool:
        """True for a unit (a folder copied whole), False for a single file."""
        return self.kind not in (Kind.FILE,) and self.op is Op.TRANSFER


def flatten(actions: Iterable[Action]) -> list[Action]:
    """Return the actions with each archive replaced by the actions packed into it."""
    out: list[Action] = []
    for action in actions:
        out.extend(action.parts if action.op is Op.ARCHIVE else (action,))
    return out


class Why(Code):
    """Why a path found in origpath is not packaged (the ``code`` of a "not packaged" line)."""

    NO_RULE = "no-rule"  # no placement rule knows it
    MISPLACED = "misplaced"  # a QA2 file or checklist where none belongs
    NO_EB = "no-eb"  # belongs to an EB, but neither its name nor its folder says which
    RAW_DATA = "raw-data"  # the archive delivers raw data itself
    MS_LEFT_OUT = "ms-left-out"  # the style or --noms leaves MSs out, or an MS of another name
    NOT_DELIVERED = "not-delivered"  # a kind ALMA does not deliver (CASA images other than masks)
    OUTSIDE_MEMBERS = "outside-members"
    LINK_NOT_FOLLOWED = "link-not-followed"
    LINK_DUPLICATE = "link-duplicate"  # reachable twice through links: packaged once
    MANUAL_ONLY = "manual-only"  # manimgonly mode
    SAME_EPHEMERIS = "same-ephemeris"  # one ephemeris per name (contents compared)
    REPLACED = "replaced"  # by the --pi-script file
    SCRIPT_DUPLICATE = "script-duplicate"  # scriptForPI.py's globs must match one file each
    STAGED_README = "staged-readme"  # a staged package's README: rewritten, its header kept
    RESTORE_AREA = "restore-area"  # scriptForPI.py's pipeline restore works there
    RESTORE_ADDITION = "restore-addition"  # added to calibration/ by scriptForPI.py's restore
    NOT_STAGED = "not-staged"  # pipeline output that is not delivered


@record
class Skipped:
    """A path found in origpath that is not packaged, with the reason (nothing is silent)."""

    source: str
    kind: Kind
    reason: str
    why: Why


class NotPlaced(NamedTuple):
    """A path no rule places: why, in a code and in words."""

    why: Why
    reason: str


class FindingCode(Code):
    """What a warning is about (packaging goes on)."""

    MISSING_CALTABLE = "missing-caltable"
    MISSING_QA2 = "missing-qa2"
    EB_WITHOUT_SCRIPT = "eb-without-script"
    EB_WITHOUT_LOG = "eb-without-log"
    NO_PRODUCT = "no-product"
    NAME_COLLISION = "name-collision"
    FIXPLANETS_WITHOUT_EPH = "fixplanets-without-eph"
    EPH_WITHOUT_FIXPLANETS = "eph-without-fixplanets"
    DEFAULT_README = "default-readme"
    ARCHIVE_UNREADABLE_NAME = "archive-unreadable-name"
    NO_PI_SCRIPT = "no-pi-script"
    PACKPATH_NOT_PROJECT_CODE = "packpath-not-project-code"
    UNREADABLE_FITS = "unreadable-fits"
    MOVED_AWAY = "moved-away"


@record
class Finding:
    """A warning: packaging goes on, but the analyst should look."""

    code: FindingCode
    message: str
    paths: tuple[str, ...] = ()


@record
class MemberPlan:
    """One member folder of the package and everything that goes into it."""

    folder: PurePosixPath  # relative to packpath: sg/group/member
    source: str  # member root, relative to origpath ("." for origpath itself)
    eb_uids: tuple[str, ...]
    eb_folders: tuple[str, ...]
    actions: tuple[Action, ...]
    readme: str
    joins_existing: bool = False


@record
class PackageState:
    """What packpath already holds (read before planning; empty when it does not exist)."""

    exists: bool = False
    is_dir: bool = True
    entries: tuple[str, ...] = ()  # top-level names
    sg: str | None = None
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()  # group folder -> member folders
    member_sizes: tuple[tuple[str, int], ...] = ()  # packpath-relative member folder -> bytes
    listing: tuple[tuple[str, bool, int], ...] = ()  # append product: (path, is_dir, size) below packpath
    readmes: tuple[tuple[str, str], ...] = ()  # append product: member folder -> README text
    member_ebs: tuple[tuple[str, tuple[str, ...]], ...] = ()  # appends: member folder -> the EB uids it holds

    def members_of(self, group: str) -> tuple[str, ...]:
        """Return the member folders of one group (empty if the group does not exist)."""
        return dict(self.groups).get(group, ())


@record
class Plan:
    """The product of planning: every action, every skip and every warning, nothing done yet."""

    origpath: Path
    packname: str
    mode: Mode
    append: Append
    style: Style
    members: tuple[MemberPlan, ...]
    skipped: tuple[Skipped, ...]
    findings: tuple[Finding, ...]
    size_text: str
    ticket: tuple[PurePosixPath, ...]
    new_dirs: tuple[PurePosixPath, ...]  # group/member folders this run creates
    ephemerides: tuple[tuple[str, tuple[str, ...]], ...] = ()  # name -> all sources with it
    gzip_caltables: bool = False
    checksums: bool = False
    owner_samples: tuple[str, ...] = ()  # absolute paths: one file per (owner, device) of origpath
    extra: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def actions(self) -> list[Action]:
        """All actions of all members, in plan order."""
        return [action for member in self.members for action in member.actions]

    @property
    def total_size(self) -> int:
        """Bytes of the package as delivered (READMEs included)."""
        return sum(action.size for action in self.actions)

    @property
    def total_files(self) -> int:
        """Number of files of the package as delivered."""
        return sum(len(a.files) if a.op is Op.TRANSFER else 1 for a in self.actions)
