"""The analyst's QA2 workspace helpers: start an SB tree, clear an EB, link for flux equalisation.

``start`` never overwrites a file and only creates; ``clear`` deletes, so it lists what goes
and refuses anything that is not an EB folder; ``fluxequal-start`` only adds relative links.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import InputError, note_writing
from ..core.model import Kind
from ..core.naming import asdm_uid, natural_sorted
from ..planning.readme import DEFAULT_HEADER
from ..run.lock import RunLock, Want
from ..scan.members import find_eb_folders
from ..scan.probe import is_asdm, scan_tree, tree_size

log = logging.getLogger(__name__)

PROJECT_RE = re.compile(r"^\d{4}\.\d\.\d{5}\.[A-Z]+$")

SB_CHECKLIST = """\
SB checklist: {sb}
Project code : {project}
SB name      : {sb}
EBs          : {ebs}

[ ] flux equalisation of the EBs done (scriptForFluxCalibration.py) or not needed
[ ] combined imaging done (scriptForImaging.py), products in FITS
[ ] requested rms and resolution reached (give the numbers in README.header.txt)
[ ] README.header.txt filled in
[ ] packaged in ticket mode and checked ('qa2pack inspect', the ticket zip)
"""

EB_CHECKLIST = """\
EB checklist: {sb} / {uid}
Project code : {project}
SB name      : {sb}
ASDM UID     : {uid}
Observation dates and total integration time (from listobs):
PWV:
Number of good antennas:

A) INTERFEROMETRIC CALIBRATION
[ ] 1) Apriori calibration (fixplanets? SYSCAL time fix? antenna positions? WVR and Tsys tables checked?)
[ ] 2) Other flagging and set cal models
[ ] 3) bandpass (REFANT good? ap_pre_bandpass and bandpass tables checked?)
[ ] 4) amp cal of all calibrators (fluxscale pasted here; phase_int, ampli_inf, phase_inf checked?)
[ ] 5) applycal and split out of .split.cal dataset
[ ] 6) generated qa2 report
[ ] 7) in case of good flux calibration: upload of flux info
"""

RUN_PACKAGING = """\
# Made by 'qa2pack workspace start': package SB {sb} in {mode} mode.
# Run it here with 'python run_packaging.py' (or execfile it in CASA).
from qa2pack import QA_Packager

QA_Packager(origpath={origpath!r}, readme={readme!r},
            packpath={packpath!r}, mode={mode!r})
"""


@dataclass
class StartReport:
    """What ``workspace start`` made."""

    reduction: Path
    eb_folders: dict[str, Path] = field(default_factory=dict)  # uid -> EB folder
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # files that existed and were left alone

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace start --json``)."""
        return {"reduction": str(self.reduction), "eb_folders": {k: str(v) for k, v in self.eb_folders.items()},
                "created": [str(p) for p in self.created], "kept": [str(p) for p in self.kept]}


def _find_asdms(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_asdm(p))


def _eb_folder_names(uids: list[str]) -> dict[str, str]:
    """Name EB folders by the uid's last part (X66d), or its last two parts when those clash."""
    last = {uid: uid.rsplit("_", 1)[-1] for uid in uids}
    clashes = {name for name in last.values() if list(last.values()).count(name) > 1}
    return {uid: "_".join(uid.split("_")[-2:]) if name in clashes else name for uid, name in last.items()}


def _write_new(path: Path, text: str, report: StartReport) -> None:
    if path.exists():
        report.kept.append(path)
        return
    path.write_text(text)
    report.created.append(path)


def start(sb_dir: Path, asdm_dir: Path | None = None, project: str | None = None, move: bool = False,
          wait: bool = False) -> StartReport:
    """Create the QA2 working tree of one SB from its ASDMs (holding the SB folder exclusively)."""
    sb_dir = Path(sb_dir).absolute()
    with RunLock([Want(sb_dir, exclusive=True)], "workspace start", wait, on_wait=log.warning):
        return _start(sb_dir, asdm_dir, project, move)


def _start(sb_dir: Path, asdm_dir: Path | None, project: str | None, move: bool) -> StartReport:
    asdm_dir = Path(asdm_dir).absolute() if asdm_dir else sb_dir
    if not asdm_dir.is_dir():
        raise InputError(f"ASDM folder does not exist: {asdm_dir}")
    asdms = _find_asdms(asdm_dir)
    if not asdms:
        raise InputError(f"no ASDM (a folder with ASDMBinary/ or ASDM.xml) in {asdm_dir}")
    sb = sb_dir.name
    reduction = sb_dir / sb
    if reduction.exists() and any(reduction.iterdir()):
        raise InputError(f"{reduction} exists already and is not empty; the SB has been started")
    if project is None:
        project = sb_dir.parent.name if PROJECT_RE.match(sb_dir.parent.name) else "2XXX.X.XXXXX.X"
    report = StartReport(reduction)
    uids = natural_sorted(asdm_uid(a.name) for a in asdms)
    names = _eb_folder_names(uids)
    note_writing(str(reduction))
    reduction.mkdir(parents=True, exist_ok=True)
    report.created.append(reduction)
    for asdm in asdms:
        uid = asdm_uid(asdm.name)
        eb = reduction / names[uid]
        eb.mkdir()
        if move:
            shutil.move(str(asdm), eb / asdm.name)
        else:
            os.symlink(asdm, eb / asdm.name, target_is_directory=True)
        report.eb_folders[uid] = eb
        report.created += [eb, eb / asdm.name]
    (reduction / "calibrated").mkdir()
    report.created.append(reduction / "calibrated")
    facts = {"sb": sb, "project": project, "ebs": ", ".join(uids)}
    _write_new(sb_dir / f"Checklist_SB_{sb}.txt", SB_CHECKLIST.format(**facts), report)
    for uid in uids:
        _write_new(sb_dir / f"Checklist_SB_{sb}_{uid}.txt", EB_CHECKLIST.format(uid=uid, **facts), report)
    header = DEFAULT_HEADER.replace("Project code:\n", f"Project code: {project}\n").replace(
        "SB name:\n", f"SB name: {sb}\n")
    _write_new(sb_dir / "README.header.txt", header, report)
    for mode in ("ticket", "hard"):
        folder = sb_dir / "packaging" / mode
        folder.mkdir(parents=True, exist_ok=True)
        script = RUN_PACKAGING.format(sb=sb, mode=mode, origpath=str(reduction),
                                      readme=str(sb_dir / "README.header.txt"), packpath=f"./{project}")
        _write_new(folder / "run_packaging.py", script, report)
    return report


@dataclass
class ClearPlan:
    """What ``workspace clear`` keeps and removes in one EB folder."""

    folder: Path
    keep: list[Path]
    remove: list[Path]
    sizes: dict[Path, int]

    def to_json(self, removed: bool) -> dict[str, Any]:
        """Return the plan as plain JSON (``workspace clear --json``), saying whether it was carried out."""
        return {"folder": str(self.folder), "kept": [p.name for p in self.keep],
                ("removed" if removed else "to_remove"): [p.name for p in self.remove]}


def plan_clear(eb_dir: Path) -> ClearPlan:
    """Decide what clearing an EB folder removes: everything but its ASDM and calibration script."""
    eb_dir = Path(eb_dir)
    if not eb_dir.is_dir():
        raise InputError(f"not a folder: {eb_dir}")
    entries = sorted(eb_dir.iterdir())
    keep = [p for p in entries if is_asdm(p) or (p.is_file() and p.name.endswith(".scriptForCalibration.py"))]
    if not any(is_asdm(p) for p in keep):
        # Without its ASDM (or a link to one) clearing would leave nothing to calibrate again from.
        raise InputError(f"{eb_dir} is not an EB folder holding its ASDM (or a link to it); refusing to clear it")
    remove = [p for p in entries if p not in keep]
    return ClearPlan(eb_dir, keep, remove, {p: tree_size(p) for p in remove})


def apply_clear(plan: ClearPlan, wait: bool = False) -> None:
    """Remove what the plan lists (links are removed, never followed), holding the EB folder exclusively."""
    with RunLock([Want(plan.folder, exclusive=True)], "workspace clear", wait, on_wait=log.warning):
        note_writing(str(plan.folder))
        _remove_listed(plan)


def _remove_listed(plan: ClearPlan) -> None:
    for path in plan.remove:
        if not os.path.lexists(path):
            continue  # gone since the plan was shown
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


@dataclass
class LinkReport:
    """What ``fluxequal-start`` linked and what it left alone."""

    calibrated: Path
    linked: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace fluxequal-start --json``)."""
        return {"calibrated": str(self.calibrated), "linked": [p.name for p in self.linked],
                "existing": [p.name for p in self.existing]}


def fluxequal_start(sb_dir: Path, wait: bool = False) -> LinkReport:
    """Link every EB's ``*.ms.split.cal`` and ``*.fluxscale`` into ``calibrated/`` (relative links)."""
    sb_dir = Path(sb_dir).absolute()
    with RunLock([Want(sb_dir, exclusive=True)], "workspace fluxequal-start", wait, on_wait=log.warning):
        return _fluxequal_start(sb_dir)


def _fluxequal_start(sb_dir: Path) -> LinkReport:
    root = sb_dir / sb_dir.name if (sb_dir / sb_dir.name).is_dir() else sb_dir
    scan = scan_tree(root)
    calibrated = root / "calibrated"
    report = LinkReport(calibrated)
    eb_folders = [rel for rel in find_eb_folders(scan.tree) if rel.split("/")[0] != "calibrated"]
    if not eb_folders:
        raise InputError(f"no EB folder below {root}")
    note_writing(str(calibrated))
    calibrated.mkdir(exist_ok=True)
    by_rel = {f.rel: f for f in scan.tree.walk()}
    for rel in natural_sorted(eb_folders):
        folder = by_rel[rel]
        names = [u.name for u in folder.units if u.kind is Kind.MS and u.name.endswith(".ms.split.cal")]
        names += [f.name for f in folder.files if f.name.endswith(".fluxscale")]
        for name in sorted(names):
            link = calibrated / name
            if os.path.lexists(link):
                report.existing.append(link)
                continue
            os.symlink(os.path.relpath(root / rel / name, calibrated), link)
            report.linked.append(link)
    return report
