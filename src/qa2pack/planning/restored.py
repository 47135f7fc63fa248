"""A staged package that scriptForPI.py restored: keep its README header, leave out what the restore added."""

from __future__ import annotations

from collections.abc import Mapping

from ..core.model import (
    Kind,
    Skipped,
    Why,
)
from ..core.record import replace
from ..delivery.layout import inside_member, is_auxiliary
from .draft import Draft
from .readme import parse_tree, split_header

# scriptForPI.py's pipeline restore works in calibrated/working and calibrated/rawdata: what it
# leaves there (extracted caltables, imported MSs, logs) comes from the delivery itself.
RESTORE_AREAS = ("working", "rawdata")


RESTORE_AREA_REASON = "the work area of scriptForPI.py's pipeline restore (its products are delivered already)"


RESTORE_ADDITION_REASON = ("not in the staged package (its README does not list it): scriptForPI.py's restore "
                           "added it to calibration/")


def apply_staged_readmes(draft: Draft, readmes: Mapping[str, str]) -> Draft:
    """Keep a staged package's README header, and leave out what restoring it added (pipeline styles).

    ``readmes`` maps the origpath-relative path of each staged member's README to its text.  The
    README's tree is the record of what the staged package held: a file in the member's
    ``calibration/`` that it does not list was added there by scriptForPI.py (the pipeline manifest
    it copies, the auxiliary products it unpacks) and is reported, not delivered twice.
    """
    externals = draft.externals
    if externals.readme_text is None and readmes:
        externals = replace(externals, readme_text=split_header(next(iter(readmes.values()))))
    listings: dict[str, set[str]] = {}
    for source, text in readmes.items():
        parsed = parse_tree(text)
        if parsed is not None:
            inside = (inside_member(path) for path in parsed[1])
            listings[source.rpartition("/")[0]] = {path for path in inside if path is not None}
    calibration, calibrated = draft.options.config.calibration, draft.options.config.calibrated
    members = []
    skipped = list(draft.skipped)
    for member in draft.members:
        root = "" if member.source == "." else member.source
        listing = listings.get(root)
        kept = []
        areas: set[str] = set()
        for action in member.actions:
            inner = (action.source or "")[len(root) + 1 if root else 0:] if action.origin_root is None else ""
            area = next((a for a in RESTORE_AREAS if inner.startswith(f"{calibrated}/{a}/")), None)
            if area is not None:
                areas.add(f"{root}/{calibrated}/{area}".lstrip("/"))
            elif (listing is not None and inner.startswith(f"{calibration}/") and inner not in listing
                  and not is_auxiliary(inner.rsplit("/", 1)[-1])):  # the README leaves those out on purpose
                skipped.append(Skipped(action.source or "", action.kind, RESTORE_ADDITION_REASON, Why.RESTORE_ADDITION))
            else:
                kept.append(action)
        skipped += [Skipped(area, Kind.FOLDER, RESTORE_AREA_REASON, Why.RESTORE_AREA) for area in sorted(areas)]
        members.append(replace(member, actions=tuple(kept)))
    return replace(draft, externals=externals, members=tuple(members), skipped=tuple(skipped))
