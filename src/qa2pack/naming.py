"""Pure naming rules: uids, natural order, the ``*_ouss_id`` levels, tar part names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase, translate
from functools import lru_cache

from .errors import UsageError
from .model import OusUids

# An ALMA uid written for file names: uid___A002_X3c9295_X8c (archive, two hex-ish parts).
_UID_CORE = r"uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+"
UID_RE = re.compile(_UID_CORE)
_LEADING_UID_RE = re.compile(rf"({_UID_CORE})(?![A-Za-z0-9])")
_ARCHIVE_UID_RE = re.compile(r"uid://([A-Za-z0-9]+)/([A-Za-z0-9]+)/([A-Za-z0-9]+)")
_NATURAL_SPLIT = re.compile(r"(\d+)")

SG_PLACEHOLDER = "sg_ouss_id"
GROUP_PLACEHOLDER = "group_ouss_id"
MEMBER_PLACEHOLDER = "member_ouss_id"
SG_PREFIX = "science_goal."
GROUP_PREFIX = "group."
MEMBER_PREFIX = "member."
# How scriptForPI.py (and everything here) recognises a pipeline processing request by name.
PPR_GLOBS = ("*PPR*.xml", "*pprequest.xml")
# scriptForPI.py reads the pipeline manifest from script/ to find the ASDMs a restore needs.
PIPELINE_MANIFEST_GLOBS = ("*pipeline_manifest.xml",)
CALIBRATION_SCRIPT_GLOB = "*uid*.ms.scriptForCalibration.py"


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Tell whether ``name`` matches one of the shell globs (case-sensitive)."""
    return _globs_regex(tuple(patterns)).match(name) is not None


@lru_cache(maxsize=128)
def _globs_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regular expression for several globs: a name is tested once, not once per glob."""
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns) or "(?!)")


def uid_after(name: str, prefix: str) -> str | None:
    """Return the uid in ``member.uid___...`` or ``MOUS_uid___...`` after ``prefix``, else None."""
    return leading_uid(name[len(prefix):]) if name.startswith(prefix) else None


def calibration_script_uid(name: str) -> str | None:
    """Return the EB uid of a ``*uid*.ms.scriptForCalibration.py`` script (None for other names)."""
    if not fnmatchcase(name, CALIBRATION_SCRIPT_GLOB):
        return None
    found = UID_RE.search(name)
    return found.group(0) if found else None


def level_folders(uids: OusUids | None) -> tuple[str, str, str]:
    """Return the science-goal, group and member folder names: placeholders or real uids."""
    if uids is None:
        return SG_PLACEHOLDER, GROUP_PLACEHOLDER, MEMBER_PLACEHOLDER
    return SG_PREFIX + uids.science_goal, GROUP_PREFIX + uids.group, MEMBER_PREFIX + uids.member


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``SB2`` before ``SB10`` (digits compare as numbers)."""
    parts = _NATURAL_SPLIT.split(text)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p != "")


def natural_sorted(names: Iterable[str]) -> list[str]:
    """Return ``names`` in natural alphanumeric order (ties broken by plain order)."""
    return sorted(names, key=lambda n: (natural_key(n), n))


def normalize_uid(text: str) -> str:
    """Return a uid in file-name form; accepts ``uid://A001/X1/X2`` and ``uid___A001_X1_X2``."""
    text = text.strip()
    match = _ARCHIVE_UID_RE.fullmatch(text)
    if match:
        return "uid___" + "_".join(match.groups())
    if UID_RE.fullmatch(text):
        return text
    raise UsageError(f"not an ALMA uid: {text!r} (expected uid://A001/X1284/X265f or uid___A001_X1284_X265f)")


def archive_uid(uid: str) -> str:
    """Return the ``uid://A002/X1/X2`` form of a file-name uid."""
    parts = normalize_uid(uid)[len("uid___") :].split("_")
    return "uid://" + "/".join(parts)


def leading_uid(name: str) -> str | None:
    """Return the uid a name starts with (``uid___A002_X1_X8c.ms.split`` -> the uid), if any."""
    match = _LEADING_UID_RE.match(name)
    return match.group(1) if match else None


def eb_uid_of(name: str, asdm_names: Iterable[str] = ()) -> str | None:
    """Return the EB uid an MS or caltable name carries, or None (``calibrated.ms``).

    The uid is the part before the first ``.ms`` when it is a uid, a leading uid, or the
    name of an ASDM found in the tree (ASDMs that are not named by a uid, e.g. VLA SDMs).
    """
    uid = leading_uid(name)
    if uid:
        return uid
    for asdm in sorted(asdm_names, key=len, reverse=True):
        if name == asdm or name.startswith(asdm + "."):
            return asdm
    return None


def asdm_uid(name: str) -> str:
    """Return the EB uid of an ASDM folder: its leading uid, else the folder name itself."""
    uid = leading_uid(name)
    if uid:
        return uid
    for suffix in (".asdm.sdm", ".sdm", ".asdm"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def level_name(placeholder: str, number: int) -> str:
    """Return ``member_ouss_id`` for 1 and ``member_ouss_idN`` for N >= 2 (seed 001)."""
    return placeholder if number == 1 else f"{placeholder}{number}"


def level_number(placeholder: str, name: str) -> int | None:
    """Return N for ``member_ouss_idN`` (1 for the bare placeholder), None for other names."""
    if name == placeholder:
        return 1
    if name.startswith(placeholder):
        rest = name[len(placeholder) :]
        if rest.isdigit() and not rest.startswith("0"):
            return int(rest)
    return None


def highest_level(placeholder: str, names: Iterable[str], prefix: str) -> str | None:
    """Return the existing level folder with the highest number (``id10`` beats ``id9``).

    Folders named by real uids (``member.uid___...``) come after the placeholders, in natural
    order, so that the last one added is the highest.
    """
    numbered = [(n, name) for name in names if (n := level_number(placeholder, name)) is not None]
    if numbered:
        return max(numbered)[1]
    real = natural_sorted(name for name in names if name.startswith(prefix))
    return real[-1] if real else None


def next_level_number(placeholder: str, names: Iterable[str]) -> int:
    """Return the number the next new level folder gets (1 when there is none yet)."""
    numbers = [n for name in names if (n := level_number(placeholder, name)) is not None]
    return max(numbers, default=0) + 1


@dataclass(frozen=True, slots=True)
class Level:
    """One level of the package tree: its placeholder name and the prefix of its real-uid name."""

    placeholder: str
    prefix: str

    def holds(self, name: str) -> bool:
        """Tell whether a folder name is ``member_ouss_idN`` or ``member.uid___...`` style."""
        return level_number(self.placeholder, name) is not None or self.has_uid(name)

    def has_uid(self, name: str) -> bool:
        """Tell whether a folder name is the real-uid form, ``member.uid___A001_X1_X2``."""
        return name.startswith(self.prefix) and UID_RE.fullmatch(name[len(self.prefix) :]) is not None

    def uid_of(self, name: str) -> str | None:
        """Return the uid of a ``member.uid___...`` folder (None for placeholders)."""
        return uid_after(name, self.prefix)

    def name(self, number: int) -> str:
        """Return the placeholder folder name for this number (see level_name)."""
        return level_name(self.placeholder, number)

    def highest(self, names: Iterable[str]) -> str | None:
        """Return the existing folder of this level with the highest number (see highest_level)."""
        return highest_level(self.placeholder, names, self.prefix)

    def next_number(self, names: Iterable[str]) -> int:
        """Return the number the next new folder of this level gets."""
        return next_level_number(self.placeholder, names)


SG_LEVEL = Level(SG_PLACEHOLDER, SG_PREFIX)
GROUP_LEVEL = Level(GROUP_PLACEHOLDER, GROUP_PREFIX)
MEMBER_LEVEL = Level(MEMBER_PLACEHOLDER, MEMBER_PREFIX)
# Top down: a package is sg/group/member.
LEVELS = (SG_LEVEL, GROUP_LEVEL, MEMBER_LEVEL)


def part_name(project: str, ous: str, number: int, total: int) -> str:
    """Return the delivery tar name ``<Project>_<OUS>_<mmm>_of_<nnn>.tar`` (SPEC section 9)."""
    return f"{project}_{ous}_{number:03d}_of_{total:03d}.tar"


def auxiliary_name(project: str, ous: str) -> str:
    """Return the name of the auxiliary-products tar ``<Project>_<OUS>_auxiliary.tar``."""
    return f"{project}_{ous}_auxiliary.tar"
