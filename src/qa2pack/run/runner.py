"""Run a checked plan: the executor, then the manifest and ticket, with the run's log file beside the package."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Dict, Optional, Tuple

from .._version import __version__
from ..core.errors import ExecutionError
from ..core.model import Append, Plan
from ..delivery.layout import MARKER
from ..formats.manifest import Row, Unhashed, manifest_path, read_manifest, write_manifest
from ..scan.probe import walk_listing
from .execute import ExecutionResult, Executor
from .journal import roll_back
from .lockfile import local_time
from .progress import Progress, SilentProgress, counted
from .report import RunReport
from .runlog import RunLog, run_log

log = logging.getLogger(__name__)

Entries = Dict[str, Tuple[int, Optional[str]]]  # package-relative path -> (size, md5 or None)


def _log_plan(plan: Plan, packpath: Path, account: RunLog) -> None:
    staging = "mous" in plan.extra
    settings = ["mode " + plan.mode.value]
    if not staging:  # a staging run has neither
        settings += ["style " + (plan.style.text or "''"), "append " + (plan.append.value or "''")]
    account.info("qa2pack %s: %s %s into %s (%s)", __version__, "staging" if staging else "packaging", plan.origpath,
                 packpath, ", ".join(settings))
    for member in plan.members:
        source = plan.origpath.name if member.source == "." else member.source
        uids = ", ".join(member.eb_uids[:5]) + (f" and {len(member.eb_uids) - 5} more" if len(member.eb_uids) > 5 else "")
        account.info("%s <- %s: %s %s", member.folder, source, counted(len(member.eb_uids), "EB"), uids)
    for finding in plan.findings:
        account.warning("[%s] %s", finding.code, finding.message)
    for skipped in plan.skipped:
        account.detail("not packaged: %s [%s] %s", skipped.source, skipped.kind.value, skipped.reason)
    if plan.skipped:
        account.info("%d path(s) not packaged (listed in the log; 'qa2pack inspect' shows them too)", len(plan.skipped))


def _manifest_entries(plan: Plan, packpath: Path, result: ExecutionResult) -> Entries | Iterator[Row | Unhashed]:
    """Return this run's files, plus (when appending) the rest of the package as it was."""
    if plan.append is Append.REPLACE:
        return result.listing()
    old_path = manifest_path(packpath)
    entries = dict(read_manifest(old_path).entries) if old_path.exists() else {}
    entries.update((rel, (size, md5)) for rel, size, md5 in result.rows())
    on_disk = walk_listing(str(packpath), str(packpath))
    return {rel: entries.get(rel, (size, None)) for rel, is_dir, size in on_disk if not is_dir and rel != MARKER}


def roll_back_interrupted(pack: Path) -> list[str]:
    """Undo a run that left its marker in packpath (moved files go home first)."""
    if not (pack / MARKER).exists():
        return []
    note = roll_back(pack)
    if note is None:
        return []
    log.warning("%s", note)
    return [note]


def run_plan(plan: Plan, pack: Path, progress: Progress | None, started: str | None, begin: float,
             notes: list[str], with_ticket: bool) -> RunReport:
    """Execute a plan that passed its preflight, then write the manifest (and ticket) and remove the marker."""
    started = started or local_time()
    pack.parent.mkdir(parents=True, exist_ok=True)
    with run_log(pack, appending=plan.append is not Append.REPLACE) as account:
        _log_plan(plan, pack, account)
        executor = Executor(plan, pack, progress or SilentProgress(), started)
        result = executor.run()
        for changed in executor.changed:
            note = f"a source changed while it was read: {changed}; the package and its manifest hold what was read"
            account.warning("%s", note)
            notes.append(note)
        outputs = {"package": str(pack), "manifest": str(manifest_path(pack))}
        try:
            meta = {"package": pack.name, "mode": plan.mode.value, "created": started,
                    "origpath": str(plan.origpath), "qa2pack": __version__}
            write_manifest(manifest_path(pack), _manifest_entries(plan, pack, result), meta)
            if with_ticket:
                from .ticket import write_ticket  # tar and zip: loaded only by the runs that write a ticket

                tar_path, zip_path = write_ticket(pack, list(plan.ticket), plan.size_text)
                outputs.update(ticket_tar=str(tar_path), ticket_zip=str(zip_path))
        except OSError as exc:
            if executor.journal is not None:
                executor.journal.close()
            raise ExecutionError(f"failed while writing the manifest or ticket ({exc.strerror}: {exc.filename}); "
                                 f"the package is marked incomplete by {pack / MARKER}") from exc
        executor.commit()
        outputs["log"] = str(account.path)
        report = RunReport(plan, pack, result.files, result.nbytes, time.monotonic() - begin, outputs, notes)
        account.info("%s", report.summary())
    return report
