"""The archive's ingest gate, as rules qa2pack checks before a delivery leaves (pure functions).

The archive accepts a delivery tar only when:

- the tar holds a README, and the one it reads is the last tar member whose name contains
  ``README``;
- that README has tree lines (lines whose first character is ``|``);
- every name of the tree, read from the bottom up to the line holding the project code (each
  line stripped of whitespace, ``|``, backticks, ``--``, non-ASCII characters and a trailing
  ``/``), is the name of a file or folder somewhere in the same tar;
- the md5 in ``<tar>.md5sum`` is the tar's, and the tar is not empty;
- the tar is named ``<Project>_<MOUS uid>_<mmm>_of_<nnn>.tar``: the MOUS uid is read from the
  name, so a placeholder there files the delivery under no MOUS.

Names the README lists must therefore survive that stripping: a name with whitespace,
non-ASCII characters, ``|``, a backtick or ``--`` in it is read as another name and the tar is
refused.  A Cycle 0 project code (``2011.0.*``) is not one the gate stops at, so it reads the
whole README and refuses every Cycle 0 tar.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

from ..core.naming import UID_RE
from .layout import ARCHIVE_PROJECT_CODE_RE, README_NAME, parse_tar_name

_COUNT_LINE_RE = re.compile(r"^\d* directories, \d* files")
_STRIPPED_RE = re.compile(r"\s+|\||`|-{2}|/$")
_PRINTABLE = frozenset(string.printable)
_UNREADABLE_RE = re.compile(r"[\s|`]|--|[^\x00-\x7f]")


def archive_reading(line: str) -> str:
    """Return what the archive makes of one README line (the name it then looks for)."""
    ascii_only = "".join(c for c in line if c in _PRINTABLE)
    return _STRIPPED_RE.sub("", ascii_only.rstrip("\n"))


def readme_names(readme: str) -> list[str]:
    """Return the names the archive reads from a README, bottom up to the project-code line.

    With no line holding a project code the archive recognises, every line of the README is
    read (and the check fails on the header text): that is what happens to Cycle 0 codes.
    """
    names = []
    for line in reversed(readme.splitlines()):
        if _COUNT_LINE_RE.match(line):
            continue
        name = archive_reading(line)
        if not name:
            continue
        names.append(name)
        if ARCHIVE_PROJECT_CODE_RE.search(line):
            break
    return names


def has_tree_lines(readme: str) -> bool:
    """Tell whether a README has the lines the archive's tree parsers read (first character ``|``)."""
    return any(line.startswith("|") for line in readme.splitlines())


def missing_names(readme: str, tar_names: Iterable[str]) -> list[str]:
    """Return the README names the archive would not find among the tar's path components."""
    names = list(tar_names)
    # A name's components are its last one and those of its folder; the folders are far fewer.
    components = {name.rpartition("/")[2] for name in names}
    components.update(part for folder in {name.rpartition("/")[0] for name in names} if folder
                      for part in folder.split("/"))
    return sorted(set(readme_names(readme)) - components)


def archive_readme_member(tar_names: Sequence[str]) -> str | None:
    """Return the tar member the archive takes for the README: the last name containing README."""
    return next((name for name in reversed(tar_names) if README_NAME in name), None)


def unreadable_name(name: str) -> bool:
    """Tell whether the archive would read a README line naming ``name`` as some other name."""
    return _UNREADABLE_RE.search(name) is not None


def tar_name_problem(tar_name: str) -> str | None:
    """Return why the archive cannot file a tar under its MOUS by the tar's name, or None."""
    parsed = parse_tar_name(tar_name)
    if parsed is None:
        return "not named <Project>_<OUS uid>_<mmm>_of_<nnn>.tar (or _auxiliary.tar)"
    ous = parsed[1]
    if not UID_RE.fullmatch(ous):
        return f"named after {ous}, not an OUS uid: the archive reads the MOUS uid from the tar name"
    return None
