"""Prepare delivered data for ``scriptForPI.py``: check everything first, then unpack all or nothing.

Product tars and raw ASDM tars (or folders) are listed without writing; from the listings the
run knows the final tree, and every check scriptForPI.py would make first is made on it, before
the first byte: the tree is safe (see :mod:`~qa2pack.restore.unpack`), every EB the scripts, the PPR or
the pipeline manifest name has its ASDM in ``raw/`` beside ``script/`` and ``calibration/``,
``calibrated/`` does not exist yet, the PPR reads, and the disk holds the unpacked data and what
scriptForPI.py will write.  Any problem is reported, all at once, with nothing written (exit 2).
Then the unpacking writes folders and files, links last, and checks the links on disk; a
failure removes what the run wrote (exit 3), and a killed run is removed by the next one.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.errors import ExecutionError, InputError, PipelineRunError, Qa2packError, RestoreError, UnsafeArchiveError
from ..core.naming import asdm_uid, natural_sorted
from ..core.record import field, record
from ..delivery.layout import MEMBER_LEVEL
from ..pipeline.ppr import RestoreRequest, unread_sessions, write_restore_ppr
from ..run.lock import RunLock, Want
from ..run.progress import Progress, SilentProgress, human_bytes
from ..scan.probe import is_asdm
from .members import RestoreMember, inspect_member, member_folders, space_factor, wanted_text
from .unpack import (
    JOURNAL,
    Entry,
    Extraction,
    FinalTree,
    Listing,
    check_links_on_disk,
    copy_folder,
    extract_tar,
    first_member,
    list_folder,
    list_tar,
    merge,
    space_problems,
    tree_problems,
    undo,
)

log = logging.getLogger(__name__)

RAW_TAR_RE = re.compile(r"^(?P<project>.+?)_(?P<uid>uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+)\.asdm\.sdm\.tar$")
ASDM_SUFFIX = ".asdm.sdm"




# -- the inputs ----------------------------------------------------------------------------------------


@record(frozen=False)
class Inputs:
    """The inputs of one run, sorted by what they are."""

    product_tars: list[Path] = field(default_factory=list)
    raw_tars: list[Path] = field(default_factory=list)
    packages: list[Path] = field(default_factory=list)  # unpacked packages (folders)
    asdms: list[Path] = field(default_factory=list)  # ASDM folders


def sort_inputs(paths: Sequence[Path]) -> Inputs:
    """Sort the inputs; one that does not exist or is neither a tar nor a usable folder is refused."""
    found = Inputs()
    for path in map(Path, paths):
        if not os.path.lexists(path):
            raise InputError(f"input does not exist: {path}")
        if path.is_dir():
            inner = sorted(path.glob("*.tar"))
            if is_asdm(path):
                found.asdms.append(path)
            elif inner:
                for tar in inner:
                    (found.raw_tars if RAW_TAR_RE.match(tar.name) else found.product_tars).append(tar)
            elif any(MEMBER_LEVEL.holds(p.name) for p in path.rglob("*") if p.is_dir()):
                found.packages.append(path)
            else:
                raise InputError(f"{path} is neither an ASDM, a folder of tars nor an unpacked package")
        elif path.is_file() and path.name.endswith(".tar"):
            (found.raw_tars if RAW_TAR_RE.match(path.name) else found.product_tars).append(path)
        else:
            raise InputError(f"not a tar file or folder: {path}")
    return found




# -- the members of the restored package ---------------------------------------------------------














# -- the report ------------------------------------------------------------------------------------


@record(frozen=False)
class RestoreReport:
    """What restore-prep did and what to run next."""

    into: Path
    members: list[RestoreMember]
    commands: list[str]
    needed: int
    free: int
    spacesaving: int
    unpacked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pprs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``restore-prep --json``)."""
        return {
            "into": str(self.into),
            "spacesaving": self.spacesaving,
            "needed_bytes": self.needed,
            "free_bytes": self.free,
            "unpacked": self.unpacked,
            "warnings": self.warnings,
            "notes": self.notes,
            "written_pprs": self.pprs,
            "members": [{"folder": str(m.folder), "pipeline": m.pipeline, "ebs": natural_sorted(m.named_ebs),
                         "asdms": {k: str(v) for k, v in sorted(m.asdms.items())}, "semipass": m.semipass,
                         "needs_restore": not m.calibrated_delivered}
                        for m in self.members],
            "next": self.commands,
        }


# -- planning ------------------------------------------------------------------------------------------


@record(frozen=False)
class _Work:
    """One input to unpack: a tar (with the renaming of its names) or a folder, and its listing."""

    path: Path
    listing: Listing
    rename: tuple[str, str] | None = None
    is_tar: bool = True


@record(frozen=False)
class RestorePlan:
    """Everything decided before writing: what to unpack where, and what the run will report."""

    work: list[_Work]
    tree: FinalTree
    report: RestoreReport
    pprs: list[tuple[Path, RestoreRequest]]


def _member_for(uid: str, members: Mapping[str, RestoreMember]) -> str:
    """Return the member whose scripts name an EB (for raw data that come without their package path)."""
    if len(members) == 1:
        return next(iter(members))
    naming = [rel for rel, member in members.items() if uid in member.named_ebs]
    if len(naming) != 1:
        raise RestoreError(f"cannot tell which member the raw data of {uid} belong to; unpack it into that "
                           "member's raw/ folder yourself")
    return naming[0]


def _raw_rename(archive: Path, uid: str, member_rel: str) -> tuple[str, str] | None:
    """Decide where a raw tar's names go: kept when it carries its package path, else into raw/<EB>.asdm.sdm."""
    parts = PurePosixPath(first_member(archive)).parts
    if "raw" in parts[1:]:
        return None
    base = "" if member_rel == "." else f"{member_rel}/"
    asdm = f"{base}raw/{uid}{ASDM_SUFFIX}"
    if parts and parts[0] == "raw":
        return ("", member_rel) if base else None
    if parts and parts[0].startswith(uid):
        return (parts[0], asdm)  # <uid>/ or <uid>.asdm.sdm/ at the top
    return ("", asdm)  # the ASDM's files at the top


def _check_members(members: Mapping[str, RestoreMember], tree: FinalTree, write_ppr: bool,
                   report: RestoreReport) -> tuple[list[str], list[tuple[Path, RestoreRequest]], int, bool]:
    """Check every member as scriptForPI.py will; return (problems, PPRs to write, raw bytes, extra copy)."""
    problems: list[str] = []
    pprs: list[tuple[Path, RestoreRequest]] = []
    raw_bytes = 0
    extra_copy = False
    for rel, member in members.items():
        where = rel if rel != "." else tree.root.name
        if member.calibrated_delivered:
            report.notes.append(f"{where}: the delivery holds calibrated data (calibrated/): it needs no restore, "
                                "and scriptForPI.py would refuse to run over it")
            continue
        if member.missing:
            named = ", ".join(f"{uid} (named in {member.named_ebs[uid]})" for uid in member.missing)
            problems.append(f"{where}: no ASDM in raw/ for {named}; download the raw data (<Project>_<EB uid>."
                            "asdm.sdm.tar) and give it too")
        for uid in member.semipass:
            report.warnings.append(f"{uid}: an ASDM no script names (semipass data?); scriptForPI.py ignores it")
        if tree.on_disk(f"{rel}/calibrated" if rel != "." else "calibrated") is not None:
            problems.append(f"{member.folder / 'calibrated'} exists already: scriptForPI.py has run here; move it "
                            "away (or restore into a new folder) first")
        skipped = unread_sessions(member.sessions) if member.pipeline else []
        if skipped:
            report.warnings.append(f"{where}: the pipeline's PPR reader reads sessions from SESSION_1 up to the first "
                                   f"gap and skips {', '.join(skipped)}; restore with the delivered restore script "
                                   "(scriptForPI.py does), which names every session")
        raw_bytes += member.asdm_bytes
        extra_copy |= member.extra_copy
        casa = "casa --pipeline" if member.pipeline else "casa"
        report.commands.append(f"cd {member.folder / 'script'} && {casa} -c \"SPACESAVING={report.spacesaving}; "
                               "execfile('scriptForPI.py')\"")
        if write_ppr:
            ppr = _restore_ppr(member, tree)
            if isinstance(ppr, str):
                problems.append(ppr)
            else:
                pprs.append(ppr)
    return problems, pprs, raw_bytes, extra_copy


def _restore_ppr(member: RestoreMember, tree: FinalTree) -> tuple[Path, RestoreRequest] | str:
    """Return where to write a member's restore PPR and what it says, or why it cannot be written."""
    if not member.pipeline and member.manifest is None:
        return (f"{member.folder}: --write-ppr: this member is calibrated by its scriptForCalibration.py scripts; a "
                "restore PPR is for pipeline-calibrated data")
    if member.mous is None:
        return (f"{member.folder}: --write-ppr: the member OUS uid is unknown (no PPR, manifest or member.uid___ "
                "folder name)")
    sessions = member.sessions or {"SESSION_1": tuple(natural_sorted(member.asdms or member.named_ebs))}
    project = member.project or member.folder.parents[2].name
    path = member.folder / f"PPR_{member.mous}_restore.xml"
    if os.path.lexists(path):
        return f"{path} exists already; --write-ppr never overwrites it"
    return path, RestoreRequest(project, member.mous, sessions, member.sous, member.gous, member.request)


def plan_restore(inputs: Inputs, into: Path, spacesaving: int, write_ppr: bool) -> RestorePlan:
    """List every input and decide everything; raise with every problem found, having written nothing."""
    work = [_Work(t, list_tar(t, None, wanted_text)) for t in inputs.product_tars]
    work += [_Work(f, list_folder(f, f.name, wanted_text), is_tar=False) for f in inputs.packages]
    tree, problems = merge((w.listing for w in work), into)
    texts: dict[str, bytes] = {}
    for item in work:
        texts.update(item.listing.texts)
    member_rels = member_folders(tree)
    if not member_rels:
        raise RestoreError("no member folder (with a script/ folder) among the inputs; give the product tars too")
    try:
        members = {rel: inspect_member(tree, texts, rel) for rel in member_rels}
        raw_work = []
        for archive in inputs.raw_tars:
            uid = RAW_TAR_RE.match(archive.name)["uid"]  # type: ignore[index]
            rename = _raw_rename(archive, uid, _member_for(uid, members))
            raw_work.append(_Work(archive, list_tar(archive, rename), rename))
        for folder in inputs.asdms:
            uid = asdm_uid(folder.name)
            member_rel = _member_for(uid, members)
            base = "" if member_rel == "." else f"{member_rel}/"
            raw_work.append(_Work(folder, list_folder(folder, f"{base}raw/{uid}{ASDM_SUFFIX}"), is_tar=False))
        work += raw_work
        tree, problems = merge((w.listing for w in work), into)
        unsafe, conflicts = tree_problems(tree)
        problems += unsafe
        members = {rel: inspect_member(tree, texts, rel) for rel in member_rels}
    except PipelineRunError as exc:
        raise RestoreError(f"{exc}; nothing was written") from None
    report = RestoreReport(into, list(members.values()), [], 0, 0, spacesaving,
                           unpacked=[str(w.path) if not w.is_tar else w.path.name for w in work])
    member_problems, pprs, raw_bytes, extra_copy = _check_members(members, tree, write_ppr, report)
    report.needed = space_factor(spacesaving, extra_copy) * raw_bytes
    space, _ = space_problems(into, tree.entries.values(), report.needed,
                              f"for scriptForPI.py (SPACESAVING={spacesaving}: "
                              f"{space_factor(spacesaving, extra_copy)} x {human_bytes(raw_bytes)} of raw data)")
    report.free = shutil.disk_usage(_existing(into)).free
    everything = problems + conflicts + member_problems + space
    if everything:
        listed = everything[0] if len(everything) == 1 else (
            f"{len(everything)} problems, nothing was written: " + "; ".join(f"({n}) {p}" for n, p in
                                                                          enumerate(everything, 1)))
        raise (UnsafeArchiveError if problems else RestoreError)(listed, everything)
    return RestorePlan(work, tree, report, pprs)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


# -- writing -----------------------------------------------------------------------------------------


def execute_restore(plan: RestorePlan, progress: Progress) -> None:
    """Unpack as planned: folders and files, then links, then the PPRs; on any failure, remove it all."""
    into = plan.tree.root
    files = [e for w in plan.work for e in w.listing.entries if e.kind == "file"]
    progress.start("restore-prep: unpacking", sum(e.size for e in files), len(files))
    try:
        with Extraction(into, progress) as extraction:
            links: list[Entry] = []
            for item in plan.work:
                if item.is_tar:
                    links += extract_tar(extraction, item.path, item.listing.entries, item.rename)
                else:
                    links += copy_folder(extraction, item.listing.entries)
            for entry in links:  # links last: every path they could lead through exists now
                extraction.make_link(entry)
            escaped = check_links_on_disk(into, links)
            if escaped:
                raise ExecutionError("a link leads outside the restore folder: " + "; ".join(escaped))
            for path, request in plan.pprs:
                extraction.claim(str(path.relative_to(into)))
                write_restore_ppr(path, request)
                plan.report.pprs.append(str(path))
    except Qa2packError as exc:
        raise ExecutionError(f"{exc}; everything this run had unpacked was removed") from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise ExecutionError(f"unpacking failed: {exc.strerror}{where}; everything this run had unpacked was "
                             "removed") from None
    finally:
        progress.finish()


def restore_prep(inputs: Sequence[Path], into: Path, spacesaving: int = 1, write_ppr: bool = False,
                 progress: Progress | None = None, wait: bool = False) -> RestoreReport:
    """Unpack and arrange product and raw data for scriptForPI.py, check it, say what to run.

    Holds ``into`` exclusively.  Nothing is written before every check passed; a failure while
    unpacking removes what was written; a run that was killed is removed by the next.
    """
    into = Path(into)
    space_factor(spacesaving, False)  # validates SPACESAVING before anything is written
    if os.path.lexists(into) and not into.is_dir():
        raise InputError(f"--into {into} is a file, not a folder")
    sources = sort_inputs(inputs)
    with RunLock([Want(into, exclusive=True)], "restore-prep", wait, on_wait=log.warning):
        notes = []
        if (into / JOURNAL).exists():
            removed = undo(into)
            notes.append(f"removed what an interrupted restore-prep had unpacked into {into} ({removed} paths)")
            log.warning("%s", notes[-1])
        plan = plan_restore(sources, into, spacesaving, write_ppr)
        plan.report.notes[:0] = notes
        execute_restore(plan, progress or SilentProgress())
        for warning in plan.report.warnings:
            log.warning("%s", warning)
        return plan.report
