"""The analyst's QA2 workspace helpers: start an SB tree, clear an EB or calibrated/, link for flux equalisation.

``start`` never overwrites a file and only creates; ``clear`` deletes, so it lists what goes
and refuses anything that is not an EB folder or an SB's ``calibrated/``; ``fluxequal-start``
only adds relative links.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..core.config import Config, load_config
from ..core.errors import InputError, note_writing
from ..core.model import Kind
from ..core.naming import asdm_uid, matches, named_folder, natural_key, natural_sorted
from ..core.record import field, record
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
import sys

from qa2pack import Qa2packError, QA_Packager{imports}

try:
    QA_Packager(origpath={origpath!r}, readme={readme!r},
                packpath={packpath!r}, mode={mode!r}{pi_script}){after}
except Qa2packError as error:  # one line, no traceback: the message says what to do
    sys.exit("qa2pack: error: %s" % error)
"""
JIRA_STEP = """
    # Everything to attach to the QA2 ticket, in one folder: the ticket zip and the checklists.
    collect_for_jira({packpath!r}, {sb_dir!r})"""


@record(frozen=False)
class StartReport:
    """What ``workspace start`` made (or, without an SB, the SBs it could start)."""

    reduction: Path | None
    eb_folders: dict[str, Path] = field(default_factory=dict)  # uid -> EB folder
    created: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)  # files that existed and were left alone
    choices: list[Path] = field(default_factory=list)  # without an SB: the SB folders found, when several

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace start --json``)."""
        return {"reduction": str(self.reduction) if self.reduction else None,
                "eb_folders": {k: str(v) for k, v in self.eb_folders.items()},
                "created": [str(p) for p in self.created], "kept": [str(p) for p in self.kept],
                "sbs": [str(p) for p in self.choices]}


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


def sb_folders(folder: Path) -> list[Path]:
    """Return the SB folders below ``folder``: its subfolders that hold ASDMs (natural order)."""
    found = [p for p in Path(folder).iterdir() if p.is_dir() and not is_asdm(p) and _find_asdms(p)]
    return sorted(found, key=lambda p: natural_key(p.name))


def start(sb_dir: Path | None = None, asdm_dir: Path | None = None, project: str | None = None, move: bool = False,
          pi_script: Path | None = None, wait: bool = False, config: Config | None = None) -> StartReport:
    """Create the QA2 working tree of one SB from its ASDMs (holding the SB folder exclusively).

    Without ``sb_dir``, the SB folders of the current folder are looked for: one is started, and
    several are listed in the report (nothing is written).  The PI script comes from
    ``pi_script`` or the ``[workspace] pi_script`` setting.
    """
    config = config or load_config(None)
    if sb_dir is None:
        found = sb_folders(Path.cwd())
        if not found:
            raise InputError(f"no SB folder (a folder holding ASDMs) in {Path.cwd()}; give the SB folder")
        if len(found) > 1:
            return StartReport(None, choices=found)
        sb_dir = found[0]
    sb_dir = named_folder(sb_dir)
    if not sb_dir.is_dir():
        raise InputError(f"SB folder does not exist: {sb_dir}")
    script = pi_script or (Path(config.workspace.pi_script) if config.workspace.pi_script else None)
    if script is not None and not Path(script).is_file():
        raise InputError(f"PI script does not exist or is not a file: {script}")
    with RunLock([Want(sb_dir, exclusive=True)], "workspace start", wait, on_wait=log.warning):
        return _start(sb_dir, asdm_dir, project, move, script)


def _start(sb_dir: Path, asdm_dir: Path | None, project: str | None, move: bool,
           pi_script: Path | None) -> StartReport:
    asdm_dir = named_folder(asdm_dir) if asdm_dir else sb_dir
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
    pi_target = sb_dir / "scriptForPI.py"
    if pi_script is not None:
        _write_new(pi_target, Path(pi_script).read_text(encoding="utf-8", errors="surrogateescape"), report)
    for mode in ("ticket", "hard"):
        folder = sb_dir / "packaging" / mode
        folder.mkdir(parents=True, exist_ok=True)
        packpath = f"./{project}"
        jira = mode == "ticket"
        script = RUN_PACKAGING.format(
            sb=sb, mode=mode, origpath=str(reduction), readme=str(sb_dir / "README.header.txt"), packpath=packpath,
            pi_script=f", PIscript={str(pi_target)!r}" if pi_target.exists() else "",
            imports="\nfrom qa2pack.analyst.ticket import collect_for_jira" if jira else "",
            after=JIRA_STEP.format(packpath=packpath, sb_dir=str(sb_dir)) if jira else "")
        _write_new(folder / "run_packaging.py", script, report)
    return report


@record(frozen=False)
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


# What clearing keeps in the SB's calibrated/ folder: the linked inputs and the two SB-level scripts.
CALIBRATED_KEEPS = ("*fluxscale", "*split.cal", "scriptForFluxCalibration.py", "scriptForImaging.py")


def plan_clear(folder: Path) -> ClearPlan:
    """Decide what clearing removes, before anything is removed.

    In an EB folder everything but its ASDM and calibration script goes; in the SB's
    ``calibrated/`` everything but the linked ``*split.cal`` and ``*fluxscale`` and the SB-level
    scripts.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder does not exist: {folder}" if not os.path.lexists(folder) else f"not a folder: {folder}")
    entries = sorted(folder.iterdir())
    if any(is_asdm(p) for p in entries):
        keep = [p for p in entries if is_asdm(p) or (p.is_file() and p.name.endswith(".scriptForCalibration.py"))]
    elif folder.name == "calibrated" or any(p.name.endswith("split.cal") for p in entries):
        keep = [p for p in entries if matches(p.name, CALIBRATED_KEEPS)]
    else:
        # Without an ASDM (or a link to one) clearing would leave nothing to calibrate again from.
        raise InputError(f"{folder} is neither an EB folder holding its ASDM (or a link to it) nor the SB's "
                         "calibrated/ folder; refusing to clear it")
    remove = [p for p in entries if p not in keep]
    return ClearPlan(folder, keep, remove, {p: tree_size(p) for p in remove})


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


@record(frozen=False)
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
    sb_dir = named_folder(sb_dir)
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
