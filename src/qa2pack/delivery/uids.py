"""Which real uid each member's and group's tars are named after, and where it came from.

The archive parses the MOUS uid from a tar's name, so tars and tickets carry real uids even
when the folders inside keep their placeholders (analysts deliver placeholder folders; the
archive renames them to ``science_goal.uid___...`` itself when it ingests).  A uid comes from
the folder name, a PPR or pipeline manifest in the member's ``script/``, a uid map, or
``--mous-uid``; two that disagree are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..core.errors import InputError, PipelineRunError, UsageError
from ..core.naming import PIPELINE_MANIFEST_GLOBS, PPR_GLOBS, matches, normalize_uid
from ..core.record import record
from .layout import GroupFolder, MemberFolder


@record
class DeliveryNaming:
    """What the user said about naming a delivery (``--mous-uid``, ``--uid-map``, and the two escapes)."""

    mous_uid: str | None = None
    uid_map: tuple[tuple[str, str], ...] = ()  # (folder, uid): member or group folder, as written in the map
    placeholder_names: bool = False  # name tars after placeholder folders (the archive cannot ingest them)
    any_project_name: bool = False  # a packpath whose name is not a project code


DEFAULT_NAMING = DeliveryNaming()


@record
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
        names = sorted((n for n in os.listdir(script) if matches(n, PPR_GLOBS) or matches(n, PIPELINE_MANIFEST_GLOBS)),
                       key=lambda n: (not matches(n, PPR_GLOBS), n))  # the PPR first
    except OSError:
        return found
    if not names:
        return found
    from ..pipeline.manifest import read_pipeline_manifest  # here: most packages hold no pipeline files
    from ..pipeline.ppr import read_ppr

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
