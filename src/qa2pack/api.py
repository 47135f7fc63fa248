"""The typed Python API: ``plan_package`` (what ``inspect`` shows) and ``package`` (the run).

This module wires the stages together: probe -> classify -> plan -> preflight -> execute ->
report.  It reads only through ``probe`` (and ``fitsinfo``) and writes only through
``execute``, ``manifest`` and ``ticket``.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .core.errors import Qa2packError, UsageError, note_writing
from .core.model import Append, Finding, FindingCode, Kind, Mode, PackageState, Plan, Skipped, Why
from .core.options import PackageOptions
from .core.record import replace
from .delivery.layout import PLACEHOLDER_PACKNAME, OusUids
from .planning.complete import complete_plan
from .planning.draft import Draft, ExternalFiles, draft_plan
from .planning.numbering import check_packpath_state
from .planning.restored import apply_staged_readmes
from .run.journal import packages_moved_into, undo_moves
from .run.lock import RunLock, Want
from .run.preflight import preflight
from .run.progress import Progress
from .run.report import RunReport
from .run.runner import roll_back_interrupted, run_plan
from .scan.inputs import check_paths, gather_facts, read_externals
from .scan.probe import read_package_state, scan_tree

log = logging.getLogger(__name__)

DEFAULT_OPTIONS = PackageOptions()


def plan_package(origpath: str | Path, options: PackageOptions = DEFAULT_OPTIONS,
                 packpath: str | Path | None = None, state: PackageState | None = None) -> Plan:
    """Scan origpath and return the plan, writing nothing (what ``inspect`` shows)."""
    packname = Path(packpath).name if packpath is not None else PLACEHOLDER_PACKNAME
    draft = _draft(Path(origpath), packname, options, state or PackageState(), read_externals(options))
    return complete_plan(draft, gather_facts(draft))


def _draft(origpath: Path, packname: str, options: PackageOptions, state: PackageState,
           externals: ExternalFiles) -> Draft:
    """Walk origpath and place everything (every link not followed becomes a 'not packaged' line)."""
    scan = scan_tree(origpath, follow_links=options.follow_links, plain_names=options.config.qa2_folders)
    notes = [Skipped(n.rel, Kind.LINK, f"-> {n.target}: {n.reason}" if n.target else n.reason,
                     Why.RAW_DATA if n.asdm else Why.LINK_NOT_FOLLOWED) for n in scan.links]
    draft = replace(draft_plan(scan.tree, scan.root, packname, options, state, externals, notes),
                    owner_samples=scan.owner_samples)
    moved = packages_moved_into(os.path.realpath(scan.root / n.rel) for n in scan.links if n.outside)
    if moved:
        draft = replace(draft, findings=draft.findings + tuple(
            Finding(FindingCode.MOVED_AWAY, f"{count} file(s) of origpath are links into {package}, where 'qa2pack "
                    "package --mode move' moved them (its moves file is beside it): package or deliver that folder, "
                    "or replace it with another package run, which first moves the data back", (str(package),))
            for package, count in sorted(moved.items())))
    if not options.style.pipeline:
        return draft
    readmes = {s.source: (origpath / s.source).read_text(encoding="utf-8", errors="replace")
               for s in draft.skipped if s.why is Why.STAGED_README}
    return apply_staged_readmes(draft, readmes)


def _package_state(pack: Path, options: PackageOptions) -> PackageState:
    return read_package_state(pack, with_listing=options.append is Append.PRODUCT,
                              with_sizes=options.append is not Append.REPLACE)


def package(origpath: str | Path, packpath: str | Path, options: PackageOptions = DEFAULT_OPTIONS,
            progress: Progress | None = None, started: str | None = None, wait: bool = False) -> RunReport:
    """Package origpath into packpath and return the run report.

    Every check runs before anything is written, holding only a lock on origpath itself (shared,
    exclusive in move mode), which writes nothing: bad input never touches the disk.  Packpath is
    locked (exclusively) just before the first write; if another run changed it meanwhile, or an
    interrupted run is rolled back, the plan is made again.  A second run on either stops at once,
    or waits with ``wait``.
    """
    begin = time.monotonic()
    orig_real, pack = check_paths(Path(origpath), Path(packpath))
    externals = read_externals(options)
    # An origin that is itself a package (pipeline styles read a staged package) is locked like one.
    origin = Want(orig_real, exclusive=options.mode is Mode.MOVE, on_folder=not options.style.pipeline)

    def plan_for(state: PackageState) -> Plan:
        check_packpath_state(state, options.append, pack)
        draft = _draft(orig_real, pack.name, options, state, externals)
        plan = complete_plan(draft, gather_facts(draft))
        preflight(plan, pack)
        return plan

    with RunLock([origin], "package", wait, on_wait=log.warning):
        state = _package_state(pack, options)
        plan = plan_for(state)
        with RunLock([Want(pack, exclusive=True)], "package", wait, on_wait=log.warning):
            notes = roll_back_interrupted(pack) + _bring_back_moved(plan, pack)
            now = _package_state(pack, options)
            if notes or now != state:  # changed since it was planned for: plan again, under the lock
                plan = plan_for(now)
            return run_plan(plan, pack, progress, started, begin, notes, with_ticket=True)


def _bring_back_moved(plan: Plan, pack: Path) -> list[str]:
    """Move back what an earlier ``--mode move`` took from this origin into the package being replaced.

    The origin then holds its files again instead of links into the old package, so the plan
    made again from it packages them (planned from the links, the new package would be empty).
    """
    if plan.append is not Append.REPLACE or not any(
            finding.code is FindingCode.MOVED_AWAY and any(Path(p).resolve() == pack.resolve() for p in finding.paths)
            for finding in plan.findings):
        return []
    note_writing(str(pack))
    moved = undo_moves(pack)
    if not moved:
        return []
    note = f"moved {moved} files of the old package back to their origin, to package them again"
    log.warning("%s", note)
    return [note]


def stage(pipeline_root: str | Path, staged_root: str | Path, mode: Mode = Mode.FAKE, pi_script: str | Path | None = None,
          pipe_readme: str | Path | None = None, ous_uids: OusUids | None = None, real_uids: bool = False,
          progress: Progress | None = None, started: str | None = None, wait: bool = False) -> RunReport:
    """Stage an ALMA Science Pipeline run as a delivery-style package (holding staged_root exclusively)."""
    from .pipeline.staging import find_run, list_run, plan_stage

    begin = time.monotonic()
    if mode not in (Mode.HARD, Mode.COPY, Mode.FAKE):
        raise UsageError(f"stage supports the modes hard, copy and fake, not {mode.value}")
    run = find_run(Path(pipeline_root))
    _, pack = check_paths(run.mous_dir, Path(staged_root))
    externals = read_externals(PackageOptions(readme=Path(pipe_readme) if pipe_readme else None,
                                              pi_script=Path(pi_script) if pi_script else None))
    if real_uids:
        if not (run.sous and run.gous):
            raise UsageError("--real-uids: the run layout names no SOUS/GOUS uid; give them with --ous-uids")
        ous_uids = OusUids(run.sous, run.gous, run.ppr.mous)
    with RunLock([Want(run.mous_dir, exclusive=False, on_folder=True)], "stage", wait, on_wait=log.warning):
        check_packpath_state(read_package_state(pack), Append.REPLACE, pack)
        listing, logs, skipped = list_run(run)
        pi = (externals.pi_script, externals.pi_script_size) if externals.pi_script else None
        plan = plan_stage(run, pack.name, mode, listing, logs, pi, externals.readme_text, ous_uids, skipped)
        preflight(plan, pack)
        with RunLock([Want(pack, exclusive=True)], "stage", wait, on_wait=log.warning):
            notes = roll_back_interrupted(pack)
            check_packpath_state(read_package_state(pack), Append.REPLACE, pack)
            return run_plan(plan, pack, progress, started, begin, notes, with_ticket=False)


__all__ = ["Qa2packError", "check_paths", "package", "plan_package", "read_externals", "run_plan", "stage"]
