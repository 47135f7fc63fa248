"""The delivery layout: project / science goal / group / member, and every name in it.

One module owns what a delivery looks like, so that packaging, tarsplit, verify, deliver and
restore-prep read and write the same tree:

- the three level folders, as placeholders (``sg_ouss_id``, ``group_ouss_id``,
  ``member_ouss_id2``) or real uids (``science_goal.uid___A001_X1_X2``, ...);
- the README of each member and how deep its tree goes;
- which pipeline products travel in the auxiliary tar;
- tar, sidecar and ticket names, and the project codes the archive's ingest recognises.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, PipelineRunError, UsageError
from .naming import PIPELINE_MANIFEST_GLOBS, PPR_GLOBS, UID_RE, leading_uid, matches, natural_sorted, normalize_uid
from .pipemanifest import read_pipeline_manifest
from .ppr import read_ppr

SG_PLACEHOLDER = "sg_ouss_id"
GROUP_PLACEHOLDER = "group_ouss_id"
MEMBER_PLACEHOLDER = "member_ouss_id"
SG_PREFIX = "science_goal."
GROUP_PREFIX = "group."
MEMBER_PREFIX = "member."

README_NAME = "README"
# The archive regenerates READMEs with ``tree -L 5`` from the project folder: science goal,
# group, member, the member's folders and their entries.  A README lists that deep and no deeper.
README_DEPTH = 5

# Pipeline products the archive delivers in ``<Project>_<OUS>_auxiliary.tar``: the AQUA report
# and the auxiliary calibration products (optional for reprocessing, not in every PI's download).
# The pipeline manifest stays with the products: scriptForPI.py reads it from script/.
AUXILIARY_PATTERNS = ("*auxproducts.tgz", "*auxcaltables.tgz", "*auxcalapply.txt", "*pipeline_aquareport.xml")

# Any ALMA project code (Cycle 0 codes included): 2011.0.00229.S, 2017.1.00886.L, 2019.A.00034.S.
PROJECT_CODE_RE = re.compile(r"\d{4}\.(?:\d|A)\.\d{5}\.[A-Z]")
# The codes the archive's ingest README check stops at: cycles 1-9 and A, types S, T, L, V.  Its
# check reads a README bottom-up until a line holding such a code; Cycle 0 codes never stop it.
ARCHIVE_PROJECT_CODE_RE = re.compile(r"\d{4}\.(?:[1-9]|A)\.\d{5}\.[STLV]")


def _level_number(placeholder: str, name: str) -> int | None:
    if name == placeholder:
        return 1
    if name.startswith(placeholder):
        rest = name[len(placeholder):]
        if rest.isdigit() and not rest.startswith("0"):
            return int(rest)
    return None


@dataclass(frozen=True, slots=True)
class Level:
    """One level of the package tree: its placeholder name and the prefix of its real-uid name."""

    placeholder: str
    prefix: str

    def holds(self, name: str) -> bool:
        """Tell whether a folder name is ``member_ouss_idN`` or ``member.uid___...`` style."""
        return self.number(name) is not None or self.has_uid(name)

    def has_uid(self, name: str) -> bool:
        """Tell whether a folder name is the real-uid form, ``member.uid___A001_X1_X2``."""
        return name.startswith(self.prefix) and UID_RE.fullmatch(name[len(self.prefix):]) is not None

    def uid_of(self, name: str) -> str | None:
        """Return the uid of a ``member.uid___...`` folder (None for placeholders)."""
        return leading_uid(name[len(self.prefix):]) if self.has_uid(name) else None

    def with_uid(self, uid: str) -> str:
        """Return the real-uid folder name for a file-name uid."""
        return self.prefix + uid

    def number(self, name: str) -> int | None:
        """Return N for ``member_ouss_idN`` (1 for the bare placeholder), None for other names."""
        return _level_number(self.placeholder, name)

    def name(self, number: int) -> str:
        """Return ``member_ouss_id`` for 1 and ``member_ouss_idN`` for N >= 2."""
        return self.placeholder if number == 1 else f"{self.placeholder}{number}"

    def highest(self, names: Iterable[str]) -> str | None:
        """Return the existing folder with the highest number (``id10`` beats ``id9``).

        Folders named by real uids come after the placeholders, in natural order, so that the
        last one added is the highest.
        """
        names = list(names)
        numbered = [(n, name) for name in names if (n := self.number(name)) is not None]
        if numbered:
            return max(numbered)[1]
        real = natural_sorted(name for name in names if self.has_uid(name))
        return real[-1] if real else None

    def next_number(self, names: Iterable[str]) -> int:
        """Return the number the next new placeholder folder of this level gets."""
        return max((n for name in names if (n := self.number(name)) is not None), default=0) + 1


SG_LEVEL = Level(SG_PLACEHOLDER, SG_PREFIX)
GROUP_LEVEL = Level(GROUP_PLACEHOLDER, GROUP_PREFIX)
MEMBER_LEVEL = Level(MEMBER_PLACEHOLDER, MEMBER_PREFIX)
LEVELS = (SG_LEVEL, GROUP_LEVEL, MEMBER_LEVEL)  # top down: a package is sg/group/member


@dataclass(frozen=True, slots=True)
class OusUids:
    """Real OUS uids for the three package levels (``--ous-uids``)."""

    science_goal: str
    group: str
    member: str


def level_folders(uids: OusUids | None) -> tuple[str, str, str]:
    """Return the science-goal, group and member folder names: placeholders or real uids."""
    if uids is None:
        return SG_PLACEHOLDER, GROUP_PLACEHOLDER, MEMBER_PLACEHOLDER
    return SG_LEVEL.with_uid(uids.science_goal), GROUP_LEVEL.with_uid(uids.group), MEMBER_LEVEL.with_uid(uids.member)


def level_of(parts: tuple[str, ...] | list[str]) -> int | None:
    """Return 0, 1 or 2 when package-relative ``parts`` name a science goal, group or member folder."""
    depth = len(parts) - 1
    if 0 <= depth <= 2 and all(LEVELS[n].holds(parts[n]) for n in range(depth + 1)):
        return depth
    return None


def member_of(rel: str) -> str | None:
    """Return the member folder (``sg/group/member``) a package-relative path lies in, if any."""
    parts = rel.split("/")
    if len(parts) >= 3 and level_of(parts[:3]) == 2:
        return "/".join(parts[:3])
    return None


def package_folder_of(rel: str) -> str | None:
    """Return the member's package folder (``calibration``, ``qa`` ...) of a path inside it, if any."""
    parts = rel.split("/")
    return parts[3] if len(parts) > 4 and level_of(parts[:3]) == 2 else None


def readme_of(member_rel: str) -> str:
    """Return the package-relative path of a member's README."""
    return f"{member_rel}/{README_NAME}"


def is_readme(rel: str) -> bool:
    """Tell whether a package-relative path is a member README."""
    parts = rel.split("/")
    return len(parts) == 4 and parts[3] == README_NAME and level_of(parts[:3]) == 2


def is_auxiliary(name: str, patterns: Iterable[str] = AUXILIARY_PATTERNS) -> bool:
    """Tell whether a file (by name) is delivered in the auxiliary tar rather than the product parts."""
    return matches(name, tuple(patterns))


def in_readme(rel: str) -> bool:
    """Tell whether a package-relative path is deep enough to be listed in a README tree."""
    return rel.count("/") < README_DEPTH


@dataclass(frozen=True, slots=True)
class MemberFolder:
    """A member folder of a package on disk, with its science-goal and group folders."""

    sg: str
    group: str
    name: str

    @property
    def rel(self) -> str:
        """The package-relative path ``sg/group/member``."""
        return f"{self.sg}/{self.group}/{self.name}"

    @property
    def uid(self) -> str | None:
        """The MOUS uid its name carries (None for a placeholder)."""
        return MEMBER_LEVEL.uid_of(self.name)

    @property
    def group_uid(self) -> str | None:
        """The GOUS uid its group's name carries (None for a placeholder)."""
        return GROUP_LEVEL.uid_of(self.group)


@dataclass(frozen=True, slots=True)
class GroupFolder:
    """A group folder: its members and whatever else it holds (group-level products)."""

    sg: str
    name: str
    members: tuple[MemberFolder, ...]
    loose: tuple[str, ...]  # entries that are not member folders

    @property
    def rel(self) -> str:
        """The package-relative path ``sg/group``."""
        return f"{self.sg}/{self.name}"

    @property
    def uid(self) -> str | None:
        """The GOUS uid its name carries (None for a placeholder)."""
        return GROUP_LEVEL.uid_of(self.name)


def _subfolders(path: str) -> list[str]:
    try:
        names = os.listdir(path)
    except OSError:
        return []
    return natural_sorted(n for n in names if os.path.isdir(os.path.join(path, n))
                          and not os.path.islink(os.path.join(path, n)))


def science_goals(packpath: Path) -> list[str]:
    """Return the science-goal folders of a package (placeholder or real uid), in natural order."""
    return [name for name in _subfolders(str(packpath)) if SG_LEVEL.holds(name)]


def list_groups(packpath: Path) -> list[GroupFolder]:
    """Walk the level folders of a package on disk (the one walk every command shares)."""
    groups = []
    for sg in science_goals(packpath):
        for group in _subfolders(os.path.join(packpath, sg)):
            if not GROUP_LEVEL.holds(group):
                continue
            group_path = os.path.join(packpath, sg, group)
            members = tuple(MemberFolder(sg, group, m) for m in _subfolders(group_path) if MEMBER_LEVEL.holds(m))
            names = {m.name for m in members}
            loose = tuple(sorted(e for e in os.listdir(group_path) if e not in names))
            groups.append(GroupFolder(sg, group, members, loose))
    return groups


def list_members(packpath: Path) -> list[MemberFolder]:
    """Return every member folder of a package on disk, in natural order."""
    return [member for group in list_groups(packpath) for member in group.members]


# -- names of what a delivery holds beside the package --------------------------------------------


def part_name(project: str, ous: str, number: int, total: int) -> str:
    """Return the delivery tar name ``<Project>_<OUS>_<mmm>_of_<nnn>.tar``."""
    return f"{project}_{ous}_{number:03d}_of_{total:03d}.tar"


def auxiliary_name(project: str, ous: str) -> str:
    """Return the name of the auxiliary-products tar ``<Project>_<OUS>_auxiliary.tar``."""
    return f"{project}_{ous}_auxiliary.tar"


def sidecar_name(tar_name: str) -> str:
    """Return the md5 sidecar of a tar: ``<tar>.md5sum``."""
    return f"{tar_name}.md5sum"


MD5SUMS = "md5sums.txt"  # a delivery's list of every tar's md5, in md5sum's format


def delivered_ticket_name(project: str, ous: str) -> str:
    """Return the ticket zip's name in a delivery: ``<Project>_<MOUS>.ticket.zip``."""
    return f"{project}_{ous}.ticket.zip"


PART_RE = re.compile(r"^(?P<set>.+)_(?P<m>\d{3})_of_(?P<n>\d{3})\.tar$")
AUXILIARY_RE = re.compile(r"^(?P<set>.+)_auxiliary\.tar$")
_SET_RE = re.compile(rf"^(?P<project>{PROJECT_CODE_RE.pattern})_(?P<ous>.+)$")


def parse_tar_name(name: str) -> tuple[str, str, int, int] | None:
    """Return (project, OUS, part, of) for a delivery tar name; part and of are 0 for the auxiliary tar."""
    match = PART_RE.match(name)
    aux = AUXILIARY_RE.match(name) if match is None else None
    found = match or aux
    if found is None:
        return None
    head = _SET_RE.match(found["set"])
    if head is None:
        return None
    if match is not None:
        return head["project"], head["ous"], int(match["m"]), int(match["n"])
    return head["project"], head["ous"], 0, 0


def is_project_code(name: str) -> bool:
    """Tell whether a packpath name is an ALMA project code (``2011.0.00229.S``)."""
    return PROJECT_CODE_RE.fullmatch(name) is not None


def archive_recognises(project: str) -> bool:
    """Tell whether the archive's ingest README check recognises this project code (not Cycle 0)."""
    return ARCHIVE_PROJECT_CODE_RE.fullmatch(project) is not None


# -- the real uids a delivery is named after -------------------------------------------------------
#
# The archive parses the MOUS uid from a tar's name, so tars and tickets carry real uids even
# when the folders inside keep their placeholders (analysts deliver placeholder folders; the
# archive renames them to science_goal.uid___... itself when it ingests).


@dataclass(frozen=True)
class DeliveryNaming:
    """What the user said about naming a delivery (``--mous-uid``, ``--uid-map``, and the two escapes)."""

    mous_uid: str | None = None
    uid_map: tuple[tuple[str, str], ...] = ()  # (folder, uid): member or group folder, as written in the map
    placeholder_names: bool = False  # name tars after placeholder folders (the archive cannot ingest them)
    any_project_name: bool = False  # a packpath whose name is not a project code


DEFAULT_NAMING = DeliveryNaming()


@dataclass(frozen=True)
class NamedFolder:
    """A member or group folder with the uid its tars are named after, and where that uid came from."""

    rel: str
    uid: str | None
    source: str  # "folder name", "script/<PPR>", "--mous-uid", "--uid-map", or "" when unknown


def read_uid_map(path: Path) -> tuple[tuple[str, str], ...]:
    """Read a uid map: one ``FOLDER UID`` per line (``member_ouss_id2 uid://A001/X1/X2``), ``#`` comments.

    FOLDER is a member or group folder name, or its path below the science goal
    (``group_ouss_id2/member_ouss_id``) where a name alone is ambiguous.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the uid map {path}: {getattr(exc, 'strerror', None) or exc}") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InputError(f"{path}, line {number}: expected 'FOLDER UID', got {line!r}")
        try:
            pairs.append((parts[0].strip("/"), normalize_uid(parts[1])))
        except UsageError as exc:
            raise InputError(f"{path}, line {number}: {exc}") from None
    return tuple(pairs)


def _script_uids(packpath: Path, member: MemberFolder) -> list[tuple[str, str | None, str]]:
    """Return (MOUS, GOUS or None, where) from the PPRs and pipeline manifests in a member's script/."""
    script = packpath / member.rel / "script"
    found: list[tuple[str, str | None, str]] = []
    try:
        names = sorted(os.listdir(script), key=lambda n: (not matches(n, PPR_GLOBS), n))  # the PPR first
    except OSError:
        return found
    for name in names:
        where = f"{member.rel}/script/{name}"
        try:
            if matches(name, PPR_GLOBS):
                request = read_ppr(script / name)
                found.append((request.mous, request.gous, where))
            elif matches(name, PIPELINE_MANIFEST_GLOBS):
                manifest = read_pipeline_manifest(script / name)
                if manifest.ous:
                    found.append((manifest.ous, None, where))
        except PipelineRunError:
            continue  # not readable: verify reports it; it names no uid here
    return found


def _mapped(naming: DeliveryNaming, keys: Iterable[str]) -> str | None:
    table = dict(naming.uid_map)
    for key in keys:
        if key in table:
            return table[key]
    return None


def name_folders(packpath: Path, groups: Iterable[GroupFolder], naming: DeliveryNaming = DEFAULT_NAMING,
                 ) -> tuple[dict[str, NamedFolder], list[str]]:
    """Find the real uid of every member and group folder; return them by path, and the conflicts found.

    Each folder's uid comes from its name (``member.uid___...``), a PPR or pipeline manifest in
    the member's ``script/`` (staged pipeline runs), the uid map, or ``--mous-uid`` for a
    package's only member.  Two sources that disagree are a conflict: the delivery would be
    filed under the wrong MOUS.
    """
    groups = list(groups)
    named: dict[str, NamedFolder] = {}
    conflicts: list[str] = []
    members = [m for g in groups for m in g.members]
    bare_names = [m.name for m in members]
    given = normalize_uid(naming.mous_uid) if naming.mous_uid else None
    group_hints: dict[str, list[tuple[str, str]]] = {}
    for member in members:
        candidates: list[tuple[str, str]] = []
        if member.uid:
            candidates.append((member.uid, "folder name"))
        for mous, gous, where in _script_uids(packpath, member):
            candidates.append((mous, where))
            if gous:
                group_hints.setdefault(f"{member.sg}/{member.group}", []).append((gous, where))
        keys = [member.rel, f"{member.group}/{member.name}"] + ([member.name] if bare_names.count(member.name) == 1
                                                                 else [])
        mapped = _mapped(naming, keys)
        if mapped:
            candidates.append((mapped, "--uid-map"))
        if given and len(members) == 1:
            candidates.append((given, "--mous-uid"))
        uids = {uid for uid, _ in candidates}
        if len(uids) > 1:
            conflicts.append(f"{member.rel}: " + ", ".join(f"{uid} ({where})" for uid, where in candidates))
        uid, source = candidates[0] if candidates else (None, "")
        named[member.rel] = NamedFolder(member.rel, uid, source)
    for group in groups:
        candidates = [(group.uid, "folder name")] if group.uid else []
        candidates += group_hints.get(group.rel, [])
        mapped = _mapped(naming, [group.rel, group.name])
        if mapped:
            candidates.append((mapped, "--uid-map"))
        if len({uid for uid, _ in candidates}) > 1:
            conflicts.append(f"{group.rel}: " + ", ".join(f"{uid} ({where})" for uid, where in candidates))
        uid, source = candidates[0] if candidates else (None, "")
        named[group.rel] = NamedFolder(group.rel, uid, source)
    return named, conflicts
