"""Pure naming rules: uids, natural order, shell globs (the delivery tree's names live in ``layout``)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase, translate
from functools import lru_cache
from pathlib import Path

from .errors import UsageError

# An ALMA uid written for file names: uid___A002_X3c9295_X8c (archive, two hex-ish parts).
_UID_CORE = r"uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+"
UID_RE = re.compile(_UID_CORE)
_LEADING_UID_RE = re.compile(rf"({_UID_CORE})(?![A-Za-z0-9])")
_ARCHIVE_UID_RE = re.compile(r"uid://([A-Za-z0-9]+)/([A-Za-z0-9]+)/([A-Za-z0-9]+)")
_NATURAL_SPLIT = re.compile(r"(\d+)")

# How scriptForPI.py (and everything here) recognises a pipeline processing request by name.
PPR_GLOBS = ("*PPR*.xml", "*pprequest.xml")
# scriptForPI.py reads the pipeline manifest from script/ to find the ASDMs a restore needs.
PIPELINE_MANIFEST_GLOBS = ("*pipeline_manifest.xml",)
CALIBRATION_SCRIPT_GLOB = "*uid*.ms.scriptForCalibration.py"


def named_folder(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` with its folder's own name last, so ``.`` or ``..`` name the project too.

    Delivery names (project code, tar names) come from the package folder's name; links are kept.
    """
    return Path(os.path.abspath(path))


def matches(name: str, patterns: Iterable[str]) -> bool:
    """Tell whether ``name`` matches one of the shell globs (case-sensitive)."""
    return matcher(patterns)(name) is not None


def matcher(patterns: Iterable[str]) -> Callable[[str], re.Match[str] | None]:
    """Return a test of names against the shell globs, for a loop over many names (a match or None)."""
    return _globs_regex(tuple(patterns)).match


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


def natural_key(text: str) -> tuple[str | int, ...]:
    """Sort key that orders ``SB2`` before ``SB10`` (digits compare as numbers).

    Split on its runs of digits, a name alternates text and number, starting and ending with
    text (empty where the name starts or ends with a digit): items at one place in two keys are
    always of one type, and an empty text sorts a number first, as in ``1a`` before ``a``.
    """
    parts: list[str | int] = list(_NATURAL_SPLIT.split(text))
    parts[1::2] = map(int, parts[1::2])
    return tuple(parts)


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
