"""The delivery step: tarsplit, verify the tars, md5sums.txt, all or nothing.

Everything is written into a hidden partial folder beside DEST and renamed to DEST only after
the tars verified, so DEST never shows a half-finished delivery.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..core.errors import InputError, LockBusyError, VerifyFailed, note_writing
from ..core.naming import named_folder
from ..core.record import field, record
from ..formats.manifest import manifest_path, md5sum_line
from ..run.lock import RunLock, Want
from ..run.progress import Progress, SilentProgress
from ..run.ticket import ticket_paths
from .layout import MD5SUMS, delivered_ticket_name
from .tarsplit import DEFAULT_MAX_SIZE, check_project_name, find_units, refuse_fake_package, tarsplit
from .uids import DEFAULT_NAMING, DeliveryNaming
from .verify import VerifyReport, verify_tars

log = logging.getLogger(__name__)

@record(frozen=False)
class DeliveryReport:
    """What a delivery holds."""

    dest: Path
    tars: list[tuple[str, str, int]] = field(default_factory=list)  # name, md5, size
    warnings: list[str] = field(default_factory=list)
    verify: VerifyReport | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the delivery as plain JSON (``deliver --json``)."""
        return {"dest": str(self.dest), "tars": [{"name": n, "md5": m, "size": s} for n, m, s in self.tars],
                "warnings": list(self.warnings)}


def partial_path(dest: Path) -> Path:
    """Return the hidden folder a delivery is built in (beside DEST, same file system)."""
    return dest.parent / f".{dest.name}.qa2pack-partial"


def deliver(packpath: Path, dest: Path, max_size: int = DEFAULT_MAX_SIZE, fake_ok: bool = False,
            progress: Progress | None = None, naming: DeliveryNaming = DEFAULT_NAMING,
            wait: bool = False) -> DeliveryReport:
    """Split packpath into verified tars with md5 sidecars and an md5sums.txt in DEST (held exclusively)."""
    packpath, dest = named_folder(packpath), Path(dest)
    try:
        _refusals(packpath, dest, fake_ok, naming)  # before a lock file is made (and again under the lock)
    except LockBusyError:  # a package run is writing it: wait for it, if told to
        if not wait:
            raise
    with RunLock([Want(packpath, exclusive=False), Want(dest, exclusive=True)], "deliver", wait,
                 on_wait=log.warning):
        return _deliver(packpath, dest, max_size, fake_ok, progress or SilentProgress(), naming)


def _refusals(packpath: Path, dest: Path, fake_ok: bool, naming: DeliveryNaming) -> None:
    """Refuse what cannot be delivered: a fake package, an existing DEST, no project code, no uid."""
    refuse_fake_package(packpath, fake_ok)
    if os.path.lexists(dest):
        raise InputError(f"{dest} exists already; a delivery is never written over (remove it or choose another)")
    blocked = next((p for p in dest.parents if os.path.lexists(p) and not p.is_dir()), None)
    if blocked is not None:
        raise InputError(f"cannot deliver into {dest}: {blocked} is a file, not a folder")
    find_units(packpath, naming)  # refuses incomplete or unnamed packages
    check_project_name(packpath, naming)


def _deliver(packpath: Path, dest: Path, max_size: int, fake_ok: bool, progress: Progress,
             naming: DeliveryNaming) -> DeliveryReport:
    _refusals(packpath, dest, fake_ok, naming)
    partial = partial_path(dest)
    if partial.exists():
        log.warning("removing the partial delivery %s left by an interrupted run", partial)
        shutil.rmtree(partial)
    note_writing(str(partial))
    dest.parent.mkdir(parents=True, exist_ok=True)
    split = tarsplit(packpath, partial, max_size, progress=progress, naming=naming)
    tars = [path for path, _, _ in split.tars]
    manifest = manifest_path(packpath)
    report = verify_tars(tars, manifest if manifest.exists() else None, fake_ok=fake_ok, progress=progress)
    if not report.ok:
        shutil.rmtree(partial)
        raise VerifyFailed(f"the tars of {packpath.name} failed verification, nothing was delivered: "
                           + "; ".join(f"{p.kind} {p.path}: {p.message}" for p in report.problems[:5]),
                           [f"{p.kind}\t{p.path}\t{p.message}" for p in report.problems])
    lines = [md5sum_line(md5, path.name) for path, md5, _ in split.tars]
    (partial / MD5SUMS).write_text("".join(lines), encoding="utf-8")
    _, ticket_zip = ticket_paths(packpath)
    if ticket_zip.exists():
        members = [u for u in split.units if u.level == "member"]
        name = delivered_ticket_name(packpath.name, members[0].ous) if len(members) == 1 else ticket_zip.name
        shutil.copy2(ticket_zip, partial / name)
    os.rename(partial, dest)  # the delivery appears whole, or not at all
    return DeliveryReport(dest, [(p.name, md5, size) for p, md5, size in split.tars], split.warnings, report)
