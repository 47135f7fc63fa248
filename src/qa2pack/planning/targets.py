"""Unique names inside a member: when two sources want one target, both are kept and the later one renamed."""

from __future__ import annotations

from pathlib import PurePosixPath

from ..core.config import Config
from ..core.model import (
    Action,
    Finding,
    FindingCode,
)
from .placement import Candidate


def assign_targets(member_folder: PurePosixPath, cands: list[Candidate], config: Config,
                    taken: set[PurePosixPath]) -> tuple[list[Action], list[Finding]]:
    """Give every candidate a unique target; a later one that collides gets its prefix."""
    actions: list[Action] = []
    findings: list[Finding] = []
    owner: dict[PurePosixPath, str] = {t: "a file already in the package" for t in taken}
    bases: dict[tuple[str, str | None], PurePosixPath] = {}  # a few folders take thousands of sources
    for cand in sorted(cands, key=lambda c: c.order):
        place = cand.placement
        base = bases.get((place.folder, place.sub))
        if base is None:
            base = member_folder / config.folder(place.folder)
            if place.sub:
                base = base / place.sub
            bases[(place.folder, place.sub)] = base
        target = base / place.name
        if target in owner:
            first = owner[target]
            renamed = base / f"{place.collision_prefix}{place.name}"
            number = 2
            while renamed in owner:
                renamed = base / f"{place.collision_prefix}{number}__{place.name}"
                number += 1
            findings.append(Finding(
                FindingCode.NAME_COLLISION,
                f"{first} and {cand.source} would both be {target.relative_to(member_folder)}; "
                f"both kept, the second as {renamed.name}",
                (first, cand.source),
            ))
            target = renamed
        owner[target] = cand.source
        actions.append(Action(target, cand.kind, place.rule, cand.source, cand.files, cand.dirs, place.eb_uid,
                              link_target=cand.link_target))
    return actions, findings
