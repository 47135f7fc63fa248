"""What the analyst should look at (findings), and names no delivery can carry (refused)."""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ..core.config import Config
from ..core.errors import EphemerisConflictError, InputError
from ..core.model import (
    Action,
    Finding,
    FindingCode,
    Kind,
    Mode,
    flatten,
)
from ..core.naming import leading_uid, matches
from ..core.options import PackageOptions
from ..delivery.ingest import unreadable_name
from ..delivery.layout import (
    PLACEHOLDER_PACKNAME,
    in_readme,
    is_project_code,
    package_folder,
)
from ..scan.members import MemberSource

if TYPE_CHECKING:
    from .draft import ContentFacts, Draft



def is_ephemeris(name: str, folder: str, config: Config) -> bool:
    """Tell whether a file placed in ``folder`` is an ephemeris (compared across EBs, checked against fixplanets)."""
    return folder == "calibrated" and matches(name, config.ephemeris_patterns)

def structure_checks(member: MemberSource, actions: list[Action], options: PackageOptions) -> list[Finding]:
    """Check what a member should hold (caltables, QA2 files, a script and a log per EB, a product), unread."""
    if options.style.pipeline:
        return []
    cfg = options.config
    findings = []
    flat = flatten(actions)
    caltables: dict[str, list[str]] = defaultdict(list)
    qa_names: dict[str, list[str]] = defaultdict(list)
    scripts: set[str] = set()
    logs: set[str] = set()
    for action in flat:
        folder = package_folder(action.target)
        uid = action.eb_uid or leading_uid(action.target.name)
        if action.kind is Kind.CALTABLE and action.eb_uid:
            caltables[action.eb_uid].append(action.target.name)
        elif folder == cfg.qa and uid:
            qa_names[uid].append(action.target.name)
        elif folder == cfg.script and uid:
            scripts.add(uid)
        elif folder == cfg.log and uid:
            logs.add(uid)
    manual = options.mode is Mode.MANIMGONLY  # packages only manual products and scripts: the rest is not missing
    for uid in member.eb_uids:
        for required in () if manual else cfg.required_caltables:
            if not any(name.startswith(uid) and fnmatch.fnmatchcase(name[len(uid):], required)
                       for name in caltables[uid]):  # uids hold no glob characters
                findings.append(Finding(FindingCode.MISSING_CALTABLE, f"EB {uid}: no calibration table {uid}{required}",
                                        (uid,)))
        for required in () if manual else cfg.required_qa2:
            if not any(name.endswith(required) for name in qa_names[uid]):
                findings.append(Finding(FindingCode.MISSING_QA2, f"EB {uid}: no QA2 file *{required}", (uid,)))
        if uid not in scripts:
            findings.append(Finding(FindingCode.EB_WITHOUT_SCRIPT, f"EB {uid}: no script found for it", (uid,)))
        if uid not in logs and not manual:
            findings.append(Finding(FindingCode.EB_WITHOUT_LOG, f"EB {uid}: no log found for it", (uid,)))
    if not any(package_folder(a.target) == cfg.product for a in flat):
        what = f"manual product (a FITS image or mask named *{cfg.manual_marker}*)" if manual else \
            "product (FITS image or mask)"
        findings.append(Finding(FindingCode.NO_PRODUCT, f"member from {member.name}: no {what} found"))
    return findings


def packpath_name_check(packname: str) -> list[Finding]:
    """Warn when the package folder is not named by a project code: its tars would be named after it."""
    if packname == PLACEHOLDER_PACKNAME or is_project_code(packname):
        return []
    return [Finding(FindingCode.PACKPATH_NOT_PROJECT_CODE,
                    f"the package folder {packname} is not named by a project code (e.g. 2019.1.01234.S): the "
                    "archive reads the project from the tar names, which come from it; rename it before "
                    "delivery (tarsplit and deliver refuse it unless told --any-project-name)")]


def ephemeris_checks(draft: Draft, facts: ContentFacts) -> list[Finding]:
    """Refuse ephemerides of one name that differ; warn when fixplanets and ephemerides do not go together."""
    for name, sources in draft.ephemerides:
        digests = {src: facts.eph_digests.get(src) for src in sources}
        first = sources[0]
        for other in sources[1:]:
            if digests[other] != digests[first]:
                raise EphemerisConflictError(name, draft.origpath / first, draft.origpath / other)
    config = draft.options.config
    has_eph = any(a.kind is Kind.FILE and is_ephemeris(a.target.name, package_folder(a.target), config)
                  for m in draft.members for a in flatten(m.actions))
    if facts.fixplanets_scripts and not has_eph:
        listed = sorted(facts.fixplanets_scripts)
        return [Finding(FindingCode.FIXPLANETS_WITHOUT_EPH,
                        f"fixplanets is called in {', '.join(listed)} but no ephemeris (*.eph) was found; "
                        "fine if fixplanets only fixes positions", tuple(listed))]
    if has_eph and not facts.fixplanets_scripts:
        return [Finding(FindingCode.EPH_WITHOUT_FIXPLANETS,
                        "ephemeris files (*.eph) found but no calibration script calls fixplanets: "
                        "a fixplanets call may be missing, or the ephemerides are superfluous")]
    return []


def unreadable_names(folder: PurePosixPath, entries: Sequence[tuple[str, bool]]) -> list[Finding]:
    """Warn about README lines the archive's ingest would read as another name (and refuse the tar)."""
    listed = sorted({path for path, _ in entries if in_readme(path) and unreadable_name(path.rsplit("/", 1)[-1])})
    if not listed:
        return []
    names = ", ".join(repr(p.rsplit("/", 1)[-1]) for p in listed[:5]) + (" ..." if len(listed) > 5 else "")
    return [Finding(FindingCode.ARCHIVE_UNREADABLE_NAME,
                    f"{folder}/README lists {names}: the archive's ingest reads README lines without their spaces, "
                    "non-ASCII characters, '|', '`' and '--', cannot find such a name in the tar and refuses it; "
                    "rename them before delivery", tuple(listed))]


def _packaged_names(actions: Iterable[Action]) -> Iterator[str]:
    """Every source path a member packages (the targets are made from these names)."""
    for action in flatten(actions):
        if action.source is None:
            continue
        yield action.source
        yield from (f"{action.source}/{inner}" for inner in action.dirs)
        yield from (f"{action.source}/{name}" for name, _ in action.files if name)


def _printable(action: Action) -> bool:
    if action.source is None:
        return True
    return (action.source.isprintable() and "".join(action.dirs).isprintable()
            and "".join(map(itemgetter(0), action.files)).isprintable())


def describe_name(path: str) -> str:
    """Show a path as its bytes would read (escapes for what is not printable or not UTF-8)."""
    raw = os.fsencode(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{str(raw)[1:]} (not UTF-8)"
    return f"{text!r} (a control or invisible character)"


def refuse_undeliverable_names(actions: Iterable[Action]) -> None:
    """Refuse, before anything is written, names no delivery can carry.

    A newline or another control character breaks the README, the manifest and the archive's
    line-by-line reading of both; bytes that are not UTF-8 cannot be written into a README or
    a tar's UTF-8 names.  Every such name is listed, so they can be renamed in one go.
    """
    actions = list(actions)
    if all(_printable(action) for action in flatten(actions)):  # the common case: joined names, no loop per file
        return
    names = list(_packaged_names(actions))
    bad = sorted({name for name in names if not name.isprintable()})
    shown = "; ".join(describe_name(name) for name in bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10
                                                                    else "")
    raise InputError(f"{len(bad)} name(s) cannot be delivered (the README, the manifest and the archive cannot carry "
                     f"them): {shown}; rename them and run again", [describe_name(name) for name in bad])
