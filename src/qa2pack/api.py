"""The typed Python API: ``plan_package`` (what ``inspect`` shows) and ``package`` (the run).

This module wires the stages together: probe -> classify -> plan -> preflight -> execute ->
report.  It reads only through ``probe`` (and ``fitsinfo``) and writes only through
``execute``, ``manifest`` and ``ticket``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from ._version import __version__
from .errors import ExecutionError, InputError, PackpathError, Qa2packError, UsageError
from .execute import Executor
from .fitsinfo import summarize_fits
from .journal import MARKER, roll_back
from .layout import OusUids
from .lock import RunLock, Want
from .manifest import manifest_path, md5_file, read_manifest, write_manifest
from .model import Append, Kind, Mode, PackageState, Plan, Skipped
from .options import PackageOptions
from .placement import STAGED_README_REASON
from .plan import ContentFacts, Draft, ExternalFiles, apply_staged_readmes, check_packpath_state, complete_plan, draft_plan
from .preflight import preflight
from .probe import check_origpath, files_containing, read_package_state, scan_tree, walk_listing
from .progress import Progress, SilentProgress
from .report import RunReport
from .ticket import write_ticket

log = logging.getLogger("qa2pack")

PLACEHOLDER_PACKNAME = "PACKPATH"
DEFAULT_OPTIONS = PackageOptions()
Entries = dict[str, tuple[int, str | None]]


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def check_paths(origpath: Path, packpath: Path) -> tuple[Path, Path]:
    """Return (real origpath, absolute packpath) or refuse overlapping or unusable paths."""
    orig_real = Path(check_origpath(origpath))
    pack_real = Path(os.path.realpath(packpath))
    if not pack_real.name:
        raise PackpathError(f"packpath {packpath} has no name; it should be the project code, e.g. 2011.0.00229.S")
    if _inside(pack_real, orig_real):
        raise PackpathError(f"packpath {packpath} is inside origpath {origpath} (or equal to it); "
                            "choose a packpath outside the reduction folder")
    if _inside(orig_real, pack_real):
        raise PackpathError(f"origpath {origpath} is inside packpath {packpath}")
    return orig_real, pack_real


def read_externals(options: PackageOptions) -> ExternalFiles:
    """Read the README header and check the PI script (both live outside origpath)."""
    text = None
    if options.readme is not None:
        try:
            text = Path(options.readme).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            raise InputError(f"readme file does not exist: {options.readme}") from None
        except IsADirectoryError:
            raise InputError(f"readme is a folder, not a file: {options.readme}") from None
        except OSError as exc:
            raise InputError(f"cannot read readme file {options.readme}: {exc.strerror}") from None
    script, size = None, 0
    if options.pi_script is not None:
        script = Path(options.pi_script).absolute()
        if not script.is_file():
            raise InputError(f"PI script does not exist or is not a file: {options.pi_script}")
        size = script.stat().st_size
    return ExternalFiles(text, script, size)


def gather_facts(draft: Draft) -> ContentFacts:
    """Read the few contents the plan depends on: ephemerides, calibration scripts, FITS headers."""
    root = draft.origpath
    eph = {src: md5_file(root / src) for _, sources in draft.ephemerides for src in sources}
    scripts = {root / src: src for src in draft.calibration_scripts()}
    fixplanets = frozenset(scripts[p] for p in files_containing(scripts, b"fixplanets"))
    images = {src: summary for src in draft.fits_sources() if (summary := summarize_fits(root / src)) is not None}
    return ContentFacts(eph, fixplanets, images)


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
    notes = [Skipped(n.rel, Kind.LINK, f"-> {n.target}: {n.reason}" if n.target else n.reason) for n in scan.links]
    draft = replace(draft_plan(scan.tree, scan.root, packname, options, state, externals, notes),
                    owner_samples=scan.owner_samples)
    if not options.style.pipeline:
        return draft
    readmes = {s.source: (origpath / s.source).read_text(encoding="utf-8", errors="replace")
               for s in draft.skipped if s.reason == STAGED_README_REASON}
    return apply_staged_readmes(draft, readmes)


class _EscapingFormatter(logging.Formatter):
    """Write names that are not UTF-8 (reported, never packaged) escaped instead of failing the log."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).encode("utf-8", "backslashreplace").decode("utf-8")


@contextmanager
def run_log(packpath: Path, append: Append) -> Iterator[Path]:
    """Write the qa2pack log records of this run to ``<packpath>.qa2pack.log`` beside packpath."""
    path = packpath.parent / f"{packpath.name}.qa2pack.log"
    handler = logging.FileHandler(path, mode="w" if append is Append.REPLACE else "a", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(_EscapingFormatter("%(asctime)s %(levelname)-7s %(message)s"))
    previous = log.level
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.DEBUG:
        log.setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        log.removeHandler(handler)
        log.setLevel(previous)
        handler.close()


def _log_plan(plan: Plan, packpath: Path) -> None:
    log.info("qa2pack %s: packaging %s into %s (mode %s, style %s, append %s)", __version__, plan.origpath,
             packpath, plan.mode.value, plan.style.text or "''", plan.append.value or "''")
    for member in plan.members:
        source = plan.origpath.name if member.source == "." else member.source
        log.info("%s <- %s: %d EB(s) %s", member.folder, source, len(member.eb_uids), ", ".join(member.eb_uids))
    for finding in plan.findings:
        log.warning("[%s] %s", finding.code, finding.message)
    for skipped in plan.skipped:
        log.debug("not packaged: %s [%s] %s", skipped.source, skipped.kind.value, skipped.reason)
    if plan.skipped:
        log.info("%d path(s) not packaged (listed in the log; 'qa2pack inspect' shows them too)", len(plan.skipped))


def _manifest_entries(plan: Plan, packpath: Path, new: Entries) -> Entries:
    """Return this run's entries, plus (when appending) the rest of the package as it was."""
    if plan.append is Append.REPLACE:
        return dict(new)
    old_path = manifest_path(packpath)
    entries = dict(read_manifest(old_path).entries) if old_path.exists() else {}
    entries.update(new)
    on_disk = walk_listing(str(packpath), str(packpath))
    return {rel: entries.get(rel, (size, None)) for rel, is_dir, size in on_disk if not is_dir and rel != MARKER}


def _roll_back_interrupted(pack: Path) -> list[str]:
    """Undo a run that left its marker in packpath (moved files go home first)."""
    if not (pack / MARKER).exists():
        return []
    note = roll_back(pack)
    if note is None:
        return []
    log.warning("%s", note)
    return [note]


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
            notes = _roll_back_interrupted(pack)
            now = _package_state(pack, options)
            if notes or now != state:  # changed since it was planned for: plan again, under the lock
                plan = plan_for(now)
            return run_plan(plan, pack, progress, started, begin, notes, with_ticket=True)


def run_plan(plan: Plan, pack: Path, progress: Progress | None, started: str | None, begin: float,
             notes: list[str], with_ticket: bool) -> RunReport:
    """Execute a plan that passed its preflight, then write the manifest (and ticket) and remove the marker."""
    started = started or datetime.now().isoformat(timespec="seconds")
    pack.parent.mkdir(parents=True, exist_ok=True)
    with run_log(pack, plan.append) as log_path:
        _log_plan(plan, pack)
        executor = Executor(plan, pack, progress or SilentProgress(), started)
        result = executor.run()
        for changed in executor.changed:
            note = f"a source changed while it was read: {changed}; the package and its manifest hold what was read"
            log.warning("%s", note)
            notes.append(note)
        outputs = {"package": str(pack), "manifest": str(manifest_path(pack))}
        try:
            meta = {"package": pack.name, "mode": plan.mode.value, "created": started,
                    "origpath": str(plan.origpath), "qa2pack": __version__}
            write_manifest(manifest_path(pack), _manifest_entries(plan, pack, result.entries), meta)
            if with_ticket:
                tar_path, zip_path = write_ticket(pack, list(plan.ticket), plan.size_text)
                outputs.update(ticket_tar=str(tar_path), ticket_zip=str(zip_path))
        except OSError as exc:
            if executor.journal is not None:
                executor.journal.close()
            raise ExecutionError(f"failed while writing the manifest or ticket ({exc.strerror}: {exc.filename}); "
                                 f"the package is marked incomplete by {pack / MARKER}") from exc
        executor.commit()
        outputs["log"] = str(log_path)
        report = RunReport(plan, pack, result.files, result.nbytes, time.monotonic() - begin, outputs, notes)
        log.info("%s", report.summary())
    return report


def stage(pipeline_root: str | Path, staged_root: str | Path, mode: Mode = Mode.FAKE, pi_script: str | Path | None = None,
          pipe_readme: str | Path | None = None, ous_uids: OusUids | None = None, real_uids: bool = False,
          progress: Progress | None = None, started: str | None = None, wait: bool = False) -> RunReport:
    """Stage an ALMA Science Pipeline run as a delivery-style package (holding staged_root exclusively)."""
    from .stage import find_run, list_run, plan_stage

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
            notes = _roll_back_interrupted(pack)
            check_packpath_state(read_package_state(pack), Append.REPLACE, pack)
            return run_plan(plan, pack, progress, started, begin, notes, with_ticket=False)


__all__ = ["Qa2packError", "check_paths", "package", "plan_package", "read_externals", "run_plan", "stage"]
