"""Stage an ALMA Science Pipeline run as a delivery-style package.

A run is ``<run>/SOUS_uid___*/GOUS_uid___*/MOUS_uid___*/{working,products,rawdata}``; what
the pipeline's export step wrote into ``products/`` (old Cycle-4 names and the current
``<mous>.<recipe>.``-prefixed ones) is mapped into ``calibration/``, ``qa/``, ``script/``,
``product/`` and ``log/`` of one member.  Anything in ``products/`` that no rule knows is
reported, never dropped silently.  Planning is pure given the listing; the executor of
``package`` writes the result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..core.errors import PipelineRunError
from ..core.model import Action, Append, Finding, FindingCode, Kind, MemberPlan, Mode, Op, Plan, Skipped, Style, Why
from ..core.naming import PIPELINE_MANIFEST_GLOBS, PPR_GLOBS, matches, uid_after
from ..core.record import record
from ..delivery.layout import README_NAME, OusUids, level_folders, package_folder
from ..delivery.verify import UNIQUE_SCRIPT_GLOBS
from ..planning.readme import DEFAULT_HEADER, readme_tree, render_readme
from .ppr import ProcessingRequest, read_ppr

# What the pipeline's export step writes, and where the delivery keeps it (first match wins).
STAGE_RULES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("qa", ("*weblog.tgz", "*weblog.tar.gz"), "pipeline weblog"),
    ("qa", ("*pipeline_aquareport.xml",), "AQUA report"),
    ("script", PIPELINE_MANIFEST_GLOBS, "pipeline manifest (scriptForPI.py looks for it in script/)"),
    ("script", PPR_GLOBS, "pipeline processing request"),
    ("script", ("*.py",), "pipeline script"),
    ("log", ("*casa_commands.log", "*.log"), "CASA log"),
    ("product", ("*.fits", "*.fits.gz"), "FITS image"),
    ("calibration", ("*caltables.tgz", "*caltables.tar.gz"), "calibration tables of a session"),
    ("calibration", ("*flagversions.tgz", "*flagversions.tar.gz"), "final flags of an EB"),
    ("calibration", ("*calapply.txt",), "calibration apply list of an EB"),
    ("calibration", ("*flagtemplate.txt", "*flagtargetstemplate.txt"), "flag template"),
    ("calibration", ("*flux.csv", "*antennapos.csv", "*cont.dat", "*jyperk.csv"), "calibrator fluxes / metadata"),
    ("calibration", ("*auxproducts.tgz",), "auxiliary products"),
)


@record
class PipelineRun:
    """Where one pipeline run keeps what matters for staging."""

    mous_dir: Path
    products: Path
    working: Path | None
    ppr: ProcessingRequest
    sous: str | None
    gous: str | None


def find_run(root: Path) -> PipelineRun:
    """Locate the MOUS folder of a run given the run, its MOUS folder, or its products/ folder."""
    root = Path(root)
    if not root.is_dir():
        raise PipelineRunError(f"pipeline run folder does not exist: {root}")
    if root.name == "products" and root.parent.name.startswith("MOUS_"):
        root = root.parent
    if (root / "products").is_dir():
        mous_dir = root
    else:
        found = sorted(root.glob("SOUS_uid___*/GOUS_uid___*/MOUS_uid___*"))
        found = [f for f in found if (f / "products").is_dir()]
        if not found:
            raise PipelineRunError(
                f"{root} is not an ALMA Science Pipeline run: no SOUS_uid___*/GOUS_uid___*/MOUS_uid___*/products "
                "folder, and it is not a MOUS or products folder"
            )
        if len(found) > 1:
            raise PipelineRunError(f"{root} holds {len(found)} MOUS folders; stage one at a time: "
                                   + ", ".join(str(f.relative_to(root)) for f in found))
        mous_dir = found[0]
    working = mous_dir / "working" if (mous_dir / "working").is_dir() else None
    ppr = _read_the_ppr(mous_dir / "products", working)
    gous_dir = mous_dir.parent
    return PipelineRun(mous_dir, mous_dir / "products", working, ppr,
                       uid_after(gous_dir.parent.name, "SOUS_") or ppr.sous,
                       uid_after(gous_dir.name, "GOUS_") or ppr.gous)


def _ppr_candidates(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and matches(p.name, PPR_GLOBS))


def _read_the_ppr(products: Path, working: Path | None) -> ProcessingRequest:
    in_products, in_working = _ppr_candidates(products), _ppr_candidates(working)
    for where in (in_products, in_working):
        if len(where) > 1:
            raise PipelineRunError("two PPRs, cannot tell which request this run followed: "
                                   + ", ".join(str(p) for p in where))
    candidates = in_products + in_working
    if not candidates:
        raise PipelineRunError(f"no PPR (PPR_*.xml or *.pprequest.xml) in {products} or the working folder")
    requests = [read_ppr(p) for p in candidates]
    if len({r.mous for r in requests}) > 1:
        raise PipelineRunError("two PPRs name different member OUSs: "
                               + ", ".join(f"{r.path.name} ({r.mous})" for r in requests))
    return requests[0]


def classify_product(name: str) -> tuple[str, str] | None:
    """Return (package folder, reason) for a file of products/, or None when no rule knows it."""
    for folder, patterns, reason in STAGE_RULES:
        if matches(name, patterns):
            return folder, reason
    return None


def _keep_unique_scripts(actions: list[Action], mous: str) -> tuple[list[Action], list[Skipped]]:
    """scriptForPI.py wants each of its script globs to match once: keep the current-named file."""
    skipped: list[Skipped] = []
    for globs in UNIQUE_SCRIPT_GLOBS:
        matching = [a for a in actions if package_folder(a.target) == "script"
                    and matches(a.target.name, globs)]
        if len(matching) <= 1:
            continue
        # Prefer products/ over working/, then the <mous>.<recipe>. (or member.) prefixed name.
        def rank(action: Action) -> tuple[int, int, str]:
            in_products = (action.source or "").startswith("products/")
            prefixed = mous in action.target.name
            return (0 if in_products else 1, 0 if prefixed else 1, action.target.name)

        keep, *drop = sorted(matching, key=rank)
        for action in drop:
            reason = f"{' / '.join(globs)} must match one file in script/; kept {keep.target.name}"
            skipped.append(Skipped(action.source or "", Kind.FILE, reason, Why.SCRIPT_DUPLICATE))
            actions.remove(action)
    return actions, skipped


def plan_stage(run: PipelineRun, staged_name: str, mode: Mode, listing: Sequence[tuple[str, int]],
               working_logs: Sequence[tuple[str, int]] = (), pi_script: tuple[Path, int] | None = None,
               pipe_readme: str | None = None, uids: OusUids | None = None,
               other_skipped: Sequence[Skipped] = ()) -> Plan:
    """Plan the staged package from the products listing (name, size) and the working-folder logs."""
    sg, group, member = level_folders(uids)
    folder = PurePosixPath(sg, group, member)
    actions: list[Action] = []
    skipped: list[Skipped] = list(other_skipped)
    for name, size in sorted(listing):
        where = classify_product(name)
        if where is None:
            skipped.append(Skipped(f"products/{name}", Kind.FILE, "a pipeline product no staging rule knows", Why.NO_RULE))
            continue
        target_folder, reason = where
        actions.append(Action(folder / target_folder / name, Kind.FILE, reason, f"products/{name}", (("", size),)))
    if not actions:
        raise PipelineRunError(f"{run.products} holds no pipeline products to stage")
    for name, size in sorted(working_logs):
        target = folder / "log" / name
        if any(a.target == target for a in actions):
            continue
        actions.append(Action(target, Kind.FILE, "CASA log of the pipeline run", f"working/{name}", (("", size),)))
    ppr = run.ppr.path
    if run.working is not None and ppr.parent == run.working:  # old runs kept the PPR in working/ only
        actions.append(Action(folder / "script" / ppr.name, Kind.FILE, "pipeline processing request (from working/)",
                              f"working/{ppr.name}", (("", ppr.stat().st_size),)))
    actions, unique_skips = _keep_unique_scripts(actions, run.ppr.mous)
    skipped += unique_skips
    findings: list[Finding] = []
    if pi_script is not None:
        actions = [a for a in actions if a.target.name != "scriptForPI.py"]
        actions.append(Action(folder / "script" / "scriptForPI.py", Kind.FILE, "PI script (--pi-script)",
                              pi_script[0].name, (("", pi_script[1]),), origin_root=pi_script[0].parent))
    else:
        findings.append(Finding(FindingCode.NO_PI_SCRIPT, "no scriptForPI.py given (--pi-script); the PI cannot restore "
                                                "the calibrated data without it"))
    header = pipe_readme if pipe_readme is not None else DEFAULT_HEADER
    entries = [((folder / README_NAME).as_posix(), False)] + [(a.target.as_posix(), False) for a in actions]
    readme = render_readme(header, "", readme_tree(staged_name, entries))
    actions.insert(0, Action(folder / README_NAME, Kind.FILE, "README: header and package tree", op=Op.TEXT,
                             text=readme))
    actions.sort(key=lambda a: a.target.as_posix())
    member_plan = MemberPlan(folder, "products", tuple(sorted(run.ppr.asdms)), (), tuple(actions), readme)
    size_lines = [f"# Expected size of the staged package {staged_name}",
                  f"{sum(a.size for a in actions)}  {len(actions)}  (total)"]
    return Plan(
        origpath=run.mous_dir,
        packname=staged_name,
        mode=mode,
        append=Append.REPLACE,
        style=Style(),
        members=(member_plan,),
        skipped=tuple(sorted(skipped, key=lambda s: s.source)),
        findings=tuple(findings),
        size_text="\n".join(size_lines) + "\n",
        ticket=(),
        new_dirs=(PurePosixPath(sg),),
        extra={"mous": run.ppr.mous, "project": run.ppr.project or ""},
    )


def list_run(run: PipelineRun) -> tuple[list[tuple[str, int]], list[tuple[str, int]], list[Skipped]]:
    """Read the products listing, the working-folder CASA logs, and what is not staged (probe)."""
    listing: list[tuple[str, int]] = []
    skipped: list[Skipped] = []
    for entry in sorted(os.scandir(run.products), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=True):
            listing.append((entry.name, entry.stat().st_size))
        else:
            skipped.append(Skipped(f"products/{entry.name}", Kind.FOLDER, "a folder in products/ (not staged)", Why.NOT_STAGED))
    logs: list[tuple[str, int]] = []
    if run.working is not None:
        for entry in sorted(os.scandir(run.working), key=lambda e: e.name):
            if entry.is_file() and matches(entry.name, ("casa-*.log",)):
                logs.append((entry.name, entry.stat().st_size))
        skipped.append(Skipped("working", Kind.FOLDER, "the pipeline working area (only its PPR and CASA logs are "
                                                       "staged)", Why.NOT_STAGED))
    if (run.mous_dir / "rawdata").is_dir():
        skipped.append(Skipped("rawdata", Kind.FOLDER, "raw data (the archive delivers the ASDMs)", Why.RAW_DATA))
    return listing, logs, skipped

