"""Which member folders a run writes: placeholders numbered for new packages and appends, or real uids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..core.errors import PackpathError, UsageError
from ..core.model import (
    Append,
    PackageState,
)
from ..core.options import PackageOptions
from ..delivery.layout import GROUP_LEVEL, MARKER, MEMBER_LEVEL, SG_LEVEL, level_folders, real_uid_member_path
from ..scan.members import MemberSource


def _staged_uid_folders(members: Sequence[MemberSource]) -> list[PurePosixPath] | None:
    """Return the level folders of a staged package named by real uids (None if any member has placeholders).

    A pipeline run staged with its real uids keeps them through ``package``: the archive names
    the tars after the member uid, and a placeholder would lose it.
    """
    paths = []
    for member in members:
        path = real_uid_member_path(member.root.rel)
        if path is None:
            return None
        paths.append(path)
    return paths if len(set(paths)) == len(paths) else None


def member_folders(members: Sequence[MemberSource], options: PackageOptions, state: PackageState,
                   ) -> tuple[list[tuple[PurePosixPath, bool]], list[PurePosixPath]]:
    """Return each member's folder (and whether it joins an existing one) and the new level folders."""
    append = options.append
    count = len(members)
    uids = options.ous_uids
    if append in (Append.GROUP, Append.MEMBER):
        refuse_packaged_twice(members, state)
    if uids is None and options.style.pipeline and append is Append.REPLACE:
        staged = _staged_uid_folders(members)
        if staged is not None:
            sgs = sorted({PurePosixPath(p.parts[0]) for p in staged})
            return [(p, False) for p in staged], sgs
    if uids is not None:
        if count != 1:
            raise UsageError(f"--ous-uids names one member, but origpath holds {count} members")
        sg, group, member = level_folders(uids)
        if append is not Append.REPLACE and state.sg not in (None, sg):
            raise PackpathError(f"packpath holds science goal {state.sg}, not {sg}")
        exists = member in state.members_of(group)
        if exists and append in (Append.GROUP, Append.MEMBER):
            raise PackpathError(f"{sg}/{group}/{member} exists already; use --append product to add to it")
        joins = exists and append is Append.PRODUCT
        if append is Append.REPLACE:
            new = [PurePosixPath(sg)]
        elif joins:
            new = []
        elif not state.members_of(group):
            new = [PurePosixPath(sg, group)]
        else:
            new = [PurePosixPath(sg, group, member)]
        return [(PurePosixPath(sg, group, member), joins)], new
    if append is Append.REPLACE:
        sg, group = SG_LEVEL.placeholder, GROUP_LEVEL.placeholder
        return [(PurePosixPath(sg, group, MEMBER_LEVEL.name(n)), False) for n in range(1, count + 1)], \
            [PurePosixPath(sg)]
    assert state.sg is not None
    group_names = [g for g, _ in state.groups]
    if append is Append.GROUP:
        group = GROUP_LEVEL.name(GROUP_LEVEL.next_number(group_names))
        return [(PurePosixPath(state.sg, group, MEMBER_LEVEL.name(n)), False) for n in range(1, count + 1)], \
            [PurePosixPath(state.sg, group)]
    highest_group = GROUP_LEVEL.highest(group_names)
    if highest_group is None:
        raise PackpathError(f"--append {append.value} needs a group in packpath; it holds none")
    group = highest_group
    existing = state.members_of(group)
    start = MEMBER_LEVEL.next_number(existing)
    names: list[tuple[str, bool]] = []
    if append is Append.PRODUCT:
        highest = MEMBER_LEVEL.highest(existing)
        if highest is None:
            raise PackpathError(f"--append product needs a member in {state.sg}/{group}; it holds none")
        names.append((highest, True))
    while len(names) < count:
        names.append((MEMBER_LEVEL.name(start), False))
        start += 1
    folders = [(PurePosixPath(state.sg, group, name), joins) for name, joins in names]
    return folders, [folder for folder, joins in folders if not joins]


def refuse_packaged_twice(members: Sequence[MemberSource], state: PackageState) -> None:
    """Refuse a new member made of EBs a member of the package holds already (it would deliver them twice)."""
    if MARKER in state.entries:
        return  # an interrupted run is rolled back first, and the plan made again
    held = {uid: folder for folder, uids in state.member_ebs for uid in uids}
    for member in members:
        again = [uid for uid in member.eb_uids if uid in held]
        if again:
            folder = held[again[0]]
            listed = ", ".join(again[:3]) + (" ..." if len(again) > 3 else "")
            raise PackpathError(f"{member.name} holds EB(s) {listed}, which {folder} holds already: appending it "
                                f"again would deliver them twice; add to that member with --append product, or "
                                "package it without --append to replace the package")


def check_packpath_state(state: PackageState, append: Append, packpath: Path) -> None:
    """Refuse to replace what is not a qa2pack package, or to append where there is none."""
    if state.exists and not state.is_dir:
        raise PackpathError(f"packpath {packpath} exists and is not a folder")
    if append is Append.REPLACE:
        foreign = [e for e in state.entries if not _is_package_entry(e)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise PackpathError(
                f"packpath {packpath} is not empty and is not a qa2pack package (it holds {shown}); "
                "nothing was removed: choose another packpath or empty it yourself"
            )
        return
    if state.sg is None or not state.groups:
        raise PackpathError(
            f"--append {append.value}: packpath {packpath} holds no package; run once without --append first"
        )


def _is_package_entry(name: str) -> bool:
    return name.startswith(".qa2pack-") or SG_LEVEL.holds(name)
