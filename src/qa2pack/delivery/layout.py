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
from collections.abc import Collection, Iterable, Sequence
from enum import Enum
from pathlib import Path, PurePosixPath

from ..core.naming import UID_RE, leading_uid, matches, natural_sorted
from ..core.record import record

SG_PLACEHOLDER = "sg_ouss_id"
GROUP_PLACEHOLDER = "group_ouss_id"
MEMBER_PLACEHOLDER = "member_ouss_id"
SG_PREFIX = "science_goal."
GROUP_PREFIX = "group."
MEMBER_PREFIX = "member."

MARKER = ".qa2pack-incomplete"  # in a package while a run writes it: the package is not complete
PLACEHOLDER_PACKNAME = "PACKPATH"  # the package's name in a plan made without a packpath (inspect)
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


@record
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


@record
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


class Position(Enum):
    """Where a package-relative path stands in the layout."""

    LEVEL_FOLDER = "a science goal, group or member folder"
    MEMBER_ITEM = "a member's package folder or README"
    GROUP_ITEM = "a package folder or README at the group level (group-level products)"
    CONTENT = "inside a package folder"
    OUTSIDE = "not part of the package layout"


def position_of(rel: str, is_dir: bool, package_folders: Collection[str]) -> tuple[Position, int]:
    """Return where a path stands, and for a level folder its level (0, 1 or 2; -1 otherwise)."""
    parts = rel.split("/")
    depth, name = len(parts) - 1, parts[-1]
    if depth <= 2 and is_dir and LEVELS[depth].holds(name):
        return Position.LEVEL_FOLDER, depth
    if depth >= 4 or (depth == 3 and parts[2] in package_folders):
        return Position.CONTENT, -1
    package_item = (is_dir and name in package_folders) or (not is_dir and name == README_NAME)
    if depth == 2 and package_item:
        return Position.GROUP_ITEM, -1
    if depth == 3 and package_item and MEMBER_LEVEL.holds(parts[2]):
        return Position.MEMBER_ITEM, -1
    return Position.OUTSIDE, -1


def uids_of_member_path(parts: Sequence[str]) -> tuple[str | None, str | None, str | None]:
    """Return the science goal, group and member uids that the last three folders of a member's path carry."""
    named = list(parts[-3:])
    levels = LEVELS[len(LEVELS) - len(named):]
    uids: list[str | None] = [None] * (len(LEVELS) - len(named))
    uids += [level.uid_of(name) for level, name in zip(levels, named)]
    return uids[0], uids[1], uids[2]


def real_uid_member_path(rel: str) -> PurePosixPath | None:
    """Return ``science_goal.uid___.../group.uid___.../member.uid___...`` when a path ends in those three folders."""
    parts = rel.split("/")[-3:]
    if len(parts) == 3 and all(level.has_uid(name) for level, name in zip(LEVELS, parts)):
        return PurePosixPath(*parts)
    return None


def inside_member(rel: str) -> str | None:
    """Return the member-relative part of a package-relative path below a member folder (None elsewhere)."""
    parts = rel.split("/", 3)
    return parts[3] if len(parts) == 4 and level_of(parts[:3]) == 2 else None


def member_of(rel: str) -> str | None:
    """Return the member folder (``sg/group/member``) a package-relative path lies in, if any."""
    parts = rel.split("/")
    if len(parts) >= 3 and level_of(parts[:3]) == 2:
        return "/".join(parts[:3])
    return None


def members_of(rels: Iterable[str]) -> set[str]:
    """Return the member folders that hold any of ``rels`` (each folder judged once, not each file)."""
    folders = {rel.rpartition("/")[0] for rel in rels}  # far fewer than files
    prefixes = {"/".join(folder.split("/", 3)[:3]) for folder in folders if folder.count("/") >= 2}
    return {prefix for prefix in prefixes if level_of(prefix.split("/")) == 2}


def package_folder_of(rel: str) -> str | None:
    """Return the member's package folder (``calibration``, ``qa`` ...) of a path inside it, if any."""
    parts = rel.split("/")
    return parts[3] if len(parts) > 4 and level_of(parts[:3]) == 2 else None


def package_folder(target: PurePosixPath) -> str:
    """Return the package folder of a planned target (``sg/group/member/<folder>/...``), or "" for a README.

    Planned targets always lie below the three level folders, so the position alone decides.
    """
    parts = target.parts
    return parts[3] if len(parts) > 4 else ""


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


@record
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


@record
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
