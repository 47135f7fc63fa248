"""``qa2pack demo``: the project229 example of the QA2 wiki, built for real and packaged.

The layout below is the reduction folder of SB ``IRC10216_setup3_b6_run_x2`` as the wiki
shows it: two EB folders (X8c with CASA >= 3.4 caltables, X528 with old CAL_DESC caltables),
their ASDMs, MSs, plots, qa2 folders, checklists and logs, and the SB-level combined
products.  The tests use the same layout to check the package against the wiki's listing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

from ..core.errors import InputError
from ..core.model import Mode, Style
from ..core.options import PackageOptions
from ..planning.readme import readme_tree
from ..run.progress import Progress
from ..run.report import RunReport
from .casatables import TableTemplates, build_tree

PROJECT = "2011.0.00229.S"
SB3 = "IRC10216_setup3_b6_run_x2"
SB4 = "IRC10216_setup4_b6_run_x2"
DEMO_MOUS = "uid://A001/X121/X229"  # made up for the demo: the wiki's example names no MOUS
_MARKER = ".qa2pack-demo"

_CALTABLES = ("ms.split.ap_pre_bandpass", "ms.split.bandpass", "ms.split.phase_int", "ms.split.ampli_inf",
              "ms.split.flux_inf", "ms.split.phase_inf")


CALIBRATION_STEPS = (
    ("Import of the ASDM", "importasdm(asdm=msName[:-3], vis=msName, asis='Antenna Station Receiver Source', "
                           "bdfflags=True, lazy=False)"),
    ("Listobs", "listobs(vis=msName, listfile=msName + '.listobs')"),
    ("A priori flagging", "flagdata(vis=msName, mode='manual', autocorr=True, flagbackup=False)"),
    ("Antenna position corrections", "gencal(vis=msName, caltable=msName + '.antpos', caltype='antpos')"),
    ("Split out science SPWs", "split(vis=msName, outputvis=msName + '.split', datacolumn='data', spw='0')"),
    ("Bandpass calibration", "bandpass(vis=msName + '.split', caltable=msName + '.split.bandpass', field='0', "
                             "solint='inf', combine='scan', refant='0', solnorm=True)"),
    ("Gain calibration", "gaincal(vis=msName + '.split', caltable=msName + '.split.phase_int', field='0~1', "
                         "solint='int', refant='0', calmode='p', gaintable=[msName + '.split.bandpass'])"),
    ("Flux scale", "fluxscale(vis=msName + '.split', caltable=msName + '.split.ampli_inf', "
                   "fluxtable=msName + '.split.flux_inf', reference='0', listfile=msName + '.split.fluxscale')"),
    ("Application of the calibration tables", "applycal(vis=msName + '.split', field='', "
                                              "gaintable=[msName + '.split.bandpass', msName + '.split.phase_int', "
                                              "msName + '.split.flux_inf'], calwt=True, flagbackup=False)"),
    ("Split out corrected column", "split(vis=msName + '.split', outputvis=msName + '.split.cal', "
                                   "datacolumn='corrected', keepflags=True)"),
)


def calibration_script(uid: str, steps: tuple[tuple[str, str], ...] = CALIBRATION_STEPS) -> str:
    """Return an EB's ``<uid>.ms.scriptForCalibration.py`` in the style of the analysts' generated scripts.

    Each step runs when ``mysteps`` names it (all steps when it is not set), as scriptForPI.py
    expects; the last step writes ``<uid>.ms.split.cal``, whose absence scriptForPI.py reports.
    """
    titles = "\n".join(f"              {n}: {title!r}," for n, (title, _) in enumerate(steps))
    body = "\n".join(f"mystep = {n}\nif mystep in thesteps:\n"
                     f"    casalog.post('Step ' + str(mystep) + ' ' + step_title[mystep], 'INFO')\n"
                     f"    print('Step %d %s' % (mystep, step_title[mystep]))\n    {call}\n"
                     for n, (_, call) in enumerate(steps))
    return (f"# ALMA Data Reduction Script\n# Calibration of {uid}\n\nthesteps = []\n"
            f"step_title = {{\n{titles}\n}}\n\n"
            "try:\n    print('List of steps to be executed ... %s' % (mysteps,))\n    thesteps = mysteps\n"
            "except NameError:\n    print('global variable mysteps not set.')\n"
            "if thesteps == []:\n    thesteps = list(range(len(step_title)))\n\n"
            f"msName = '{uid}.ms'\n\n{body}")


def eb_folder(folder: str, uid: str, *, old_style: bool, logs: tuple[str, ...]) -> dict[str, str]:
    """Return the files of one EB folder as the wiki recommends it (ASDM, MSs, tables, qa2/, checklist)."""
    cal = "@calold" if old_style else "@cal"
    layout = {
        f"{folder}/checklist.txt": f"EB checklist for {uid}\n[x] 1) Apriori calibration\n[x] 3) bandpass\n",
        f"{folder}/qa2/qa2_part1.png": "@png",
        f"{folder}/qa2/qa2_part2.png": "@png",
        f"{folder}/qa2/qa2_part3.png": "@png",
        f"{folder}/qa2/textfile.txt": f"QA2 report for {uid}\nCheck of a target image and sensitivity: ok\n",
        f"{folder}/{uid}": "@asdm",
        f"{folder}/{uid}.ms": "@ms",
        f"{folder}/{uid}.ms.split": "@ms",
        f"{folder}/{uid}.ms.split.cal": "@ms",
        f"{folder}/{uid}.ms.antpos": cal,
        f"{folder}/{uid}.ms.tsys": cal,
        f"{folder}/{uid}.ms.wvr": cal,
        f"{folder}/{uid}.ms.flagversions": "@flagversions",
        f"{folder}/{uid}.ms.scriptForCalibration.py": calibration_script(uid),
        f"{folder}/{uid}.ms.listobs": f"listobs output of {uid}.ms\n",
        f"{folder}/{uid}.ms.split.fluxscale": "Flux density for J0854+201 in SpW=0 is: 2.8 +/- 0.01\n",
        f"{folder}/{uid}.ms.split.ap_pre_bandpass.plots": "@plots",
    }
    layout.update({f"{folder}/{uid}.{table}": cal for table in _CALTABLES})
    layout.update({f"{folder}/{name}": f"CASA log {name}\n" for name in logs})
    return layout


def project229_setup3() -> dict[str, str]:
    """Return the reduction folder of ``IRC10216_setup3_b6_run_x2``, below project229."""
    sb = SB3
    layout = {
        f"{sb}/IRC10216_setup3_b6_runx2.imaging.txt": "Notes for the PI: imaging of IRC+10216, setup 3.\n",
        f"{sb}/calibrated.ms": "@ms",
        f"{sb}/calibrated_all_setup3_b6.clean.fits": "@fits",
        f"{sb}/scriptForFluxCalibration.py": "# flux equalisation of X8c and X528\n"
                                             "concat(vis=[], concatvis='calibrated.ms')\n",
        f"{sb}/scriptForImaging.py": "# imaging\n"
                                     "clean(vis='calibrated.ms', imagename='calibrated_all_setup3_b6.clean')\n",
        f"{sb}/scriptForCalibration.py": "# wrapper running both EB calibration scripts\n",
        f"{sb}/scriptForAprioriCalibration.py": "# a-priori calibration\n",
        f"{sb}/ipython.log": "ipython log of the SB-level work\n",
        f"{sb}/casapy-2012-05-03T115433.log": "CASA log of the imaging\n",
        f"{sb}/Combined/calibrated_all_setup3_b6.clean.image": "@image",
        f"{sb}/Combined/calibrated_all_setup3_b6.clean.residual": "@image",
    }
    layout.update(eb_folder(f"{sb}/X8c", "uid___A002_X3c9295_X8c", old_style=False,
                            logs=("casapy-20120502-102144.log", "ipython.log", "ipython-20120502-102151.log")))
    layout.update(eb_folder(f"{sb}/X528", "uid___A002_X3dc0e7_X528", old_style=True,
                            logs=("ipython-20120430-142604.log",)))
    return layout


def project229_setup4() -> dict[str, str]:
    """Return the second SB of the wiki example (appended as ``member_ouss_id2``)."""
    layout = eb_folder(f"{SB4}/X3c9295_X1e0", "uid___A002_X3c9295_X1e0", old_style=False, logs=("ipython.log",))
    layout[f"{SB4}/scriptForImaging.py"] = "# imaging of setup 4\n"
    layout[f"{SB4}/calibrated_setup4_b6.clean.fits"] = "@fits"
    return layout


README_HEADER = """\
Atacama Large Millimeter/submillimeter Array (ALMA)

#####

Cycle: 0 (Early science)
Project code: 2011.0.00229.S
SB name: IRC10216_setup3_b6_run_x2
PI name: (demo)
Project title: The inner wind of IRC+10216 (qa2pack demo data)
Configuration: extended
Proposed rms: 2 mJy/beam
CASA version used for reduction: 3.4
Comments from Reducer: built by 'qa2pack demo'; the tables are real CASA tables with a few rows.

#####
"""


def build_demo_tree(root: Path, templates: TableTemplates | None = None, with_setup4: bool = True) -> Path:
    """Build ``root/project229`` (and the README header file); return the SB3 folder."""
    own = templates is None
    templates = templates or TableTemplates()
    try:
        layout = project229_setup3()
        if with_setup4:
            layout.update(project229_setup4())
        build_tree(root / "project229", layout, templates)
    finally:
        if own:
            templates.cleanup()
    (root / "README.header.txt").write_text(README_HEADER)
    return root / "project229" / SB3


def _prepare_dir(target: Path) -> None:
    if target.exists() and any(target.iterdir()):
        if not (target / _MARKER).exists():
            raise InputError(f"{target} is not empty and holds no earlier demo; give an empty or new folder")
        for entry in target.iterdir():  # an earlier demo: only what the demo made is in here
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    target.mkdir(parents=True, exist_ok=True)
    (target / _MARKER).write_text("made by qa2pack demo; 'qa2pack demo' may empty this folder\n")


def run_demo(target: Path, mode: Mode = Mode.FAKE, progress: Progress | None = None) -> dict[str, Any]:
    """Build the demo tree in ``target``, package it, and describe the result."""
    from ..api import package

    _prepare_dir(target)
    sb = build_demo_tree(target)
    packpath = target / PROJECT
    options = PackageOptions(mode=mode, readme=target / "README.header.txt")
    report = package(sb, packpath, options, progress)
    lines = [
        f"Built the project229 reduction folder of the QA2 wiki in {target / 'project229'}",
        f"and packaged {SB3} (mode {mode.value}):",
        "",
        f"  qa2pack package {sb} {packpath} --readme {target / 'README.header.txt'} --mode {mode.value}",
        *_outcome(PROJECT, report),
        f"  qa2pack inspect {sb}                  # every file, where it goes and why",
        f"  qa2pack package {target / 'project229' / SB4} {packpath} --append member "
        f"--readme {target / 'README.header.txt'}   # add the second SB",
        f"  less {packpath / report.plan.members[0].folder / 'README'}",
        f"  qa2pack package {sb} {packpath} --mode hard --readme {target / 'README.header.txt'}   # real data",
        f"  qa2pack deliver {packpath} {target / 'delivery'} --mous-uid {DEMO_MOUS}   # tars named by the MOUS",
    ]
    data = report.to_json()
    data["text"] = "\n".join(lines) + "\n"
    return data


def _outcome(project: str, report: RunReport) -> list[str]:
    """Describe a demo's package: the first member's README tree, the run's summary, the next steps' heading."""
    member = report.plan.members[0]
    overview = readme_tree(project, [(a.target.as_posix(), a.is_tree) for a in member.actions])
    return ["", overview.rstrip(), "", report.summary(), "", "Next steps:"]


def run_pipeline_demo(target: Path, mode: Mode = Mode.FAKE, progress: Progress | None = None) -> dict[str, Any]:
    """Build a current pipeline run in ``target``, stage it with its real uids, package it, and describe it.

    The run has today's product names (``<mous>.hifa_calimage.*``, ``*.pprequest.xml``), the
    auxiliary products and AQUA report, and a session of two EBs beside two sessions of one.
    """
    from ..api import package, stage
    from .pipeline_runs import CURRENT, current_run

    _prepare_dir(target)
    run = current_run(target / "pipeline")
    staged = target / "staged" / CURRENT.project
    staged_report = stage(run, staged, Mode.COPY, real_uids=True, progress=progress)
    packpath = target / CURRENT.project
    report = package(staged, packpath, PackageOptions(mode=mode, style=Style.parse("cycle5-pipe")), progress)
    sessions = ", ".join(f"{name}: {len(ebs)} EB(s)" for name, ebs in CURRENT.sessions.items())
    lines = [
        f"Built a pipeline run of {CURRENT.project} (MOUS {CURRENT.mous}; {sessions}) in {run},",
        f"staged it with its real uids into {staged} ({staged_report.summary()}),",
        f"and packaged the staged tree (mode {mode.value}):",
        "",
        f"  qa2pack stage {run} {staged} --mode copy --real-uids",
        f"  qa2pack package {staged} {packpath} --style cycle5-pipe --mode {mode.value}",
        *_outcome(CURRENT.project, report),
        f"  qa2pack inspect {staged} --style cycle5-pipe   # every file, where it goes and why",
        f"  qa2pack deliver {staged} {target / 'delivery'}   # tars named by the MOUS the PPR names",
    ]
    data = report.to_json()
    data["text"] = "\n".join(lines) + "\n"
    return data


def run_real_casa_demo(target: Path, pi_script: Path | None, say: Callable[[str], None]) -> dict[str, Any]:
    """Run the real-CASA demo (``demo --casa``) in ``target`` and describe it; ``ok`` when the restore matched."""
    from .casa.reduction import TOLERANCE, run_casa_demo

    demo = run_casa_demo(target, pi_script, _prepare_dir, say)
    ok = bool(demo.verdicts) and all(verdict["equal"] for verdict in demo.verdicts)
    lines = [f"Reduced {len(demo.verdicts) or 2} simulated EBs with real CASA in {demo.reduction},",
             f"packaged, delivered into {demo.root / 'delivery'} and restored into {demo.restored}.", ""]
    lines += [f"  {step:<40} {seconds:6.1f} s" for step, seconds in demo.steps]
    lines.append(f"  {'total':<40} {sum(seconds for _, seconds in demo.steps):6.1f} s")
    lines.append("")
    for verdict in demo.verdicts:
        same = "EQUAL" if verdict["equal"] else "DIFFERENT"
        lines.append(f"{same}: {verdict['restored']} ({verdict['rows']} rows) against the analyst's "
                     f"{verdict['original']} ({verdict['rows_original']} rows), largest difference "
                     f"{verdict.get('max_difference', float('nan')):.2g} of the peak (tolerance {TOLERANCE:g})")
    if not demo.verdicts:
        lines.append(f"Run scriptForPI.py there with CASA: cd {demo.restored}/script && casa -c scriptForPI.py")
    elif ok:
        lines.append("The restored calibrated data equal the analyst's.")
    else:
        lines.append(f"The restored calibrated data differ from the analyst's; the logs are in {demo.logs}")
    return {"root": str(demo.root), "reduction": str(demo.reduction), "restored": str(demo.restored),
            "steps": [{"step": step, "seconds": round(seconds, 2)} for step, seconds in demo.steps],
            "comparison": demo.verdicts, "ok": ok, "text": "\n".join(lines) + "\n"}
