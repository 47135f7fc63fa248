"""Deliveries of every kind qa2pack makes, built once per test session for the real consumers.

Analyst deliveries: the project229 reduction of the QA2 wiki packaged with placeholder folders
(tars named by ``--mous-uid``), with real uids (``--ous-uids``), the Cycle 0 demo itself, and two
members named through a uid map.  Pipeline deliveries: runs of three naming eras staged as the
archive would deliver them (placeholders, the tar names taken from the staged PPR), a current run
staged with its real uids, and the analyst's case 2 (restored, imaged and packaged again with a
pipeline style).  Each comes with the raw ASDM tars a PI downloads beside it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from factories import FIG2, SB3, project229_setup3
from qa2pack import Mode, OusUids, PackageOptions, Style, package, stage
from qa2pack.analyst.casatables import TableTemplates, build_tree, make_asdm, make_fits
from qa2pack.analyst.pipeline_runs import CURRENT, ERAS
from qa2pack.delivery.deliver import deliver
from qa2pack.delivery.uids import DeliveryNaming, read_uid_map
from qa2pack.restore.prepare import restore_prep

HARNESS = Path(__file__).resolve().parent / "harness"
ANALYST_EBS = ["uid___A002_X3c9295_X8c", "uid___A002_X3dc0e7_X528"]
ANALYST_MOUS = "uid___A001_X121_X229"
PI_SCRIPT = "scriptForPI/scriptForPI_v1.34_2022.py"


@dataclass
class Delivery:
    """One delivery as a PI downloads it: the delivery folder (tars, sidecars, ticket) and raw tars."""

    name: str
    project: str
    package: Path
    dest: Path
    ebs: list[str]
    pipeline: bool
    raw: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def tars(self) -> list[Path]:
        """The product tars (parts and auxiliary)."""
        return sorted(p for p in self.dest.iterdir() if p.suffix == ".tar")

    @property
    def parts(self) -> list[Path]:
        """The ``_mmm_of_nnn.tar`` parts only."""
        return [p for p in self.tars if "_of_" in p.name]


def raw_tars(folder: Path, project: str, ebs: list[str]) -> list[Path]:
    """The raw ASDM tars of the EBs, ``<Project>_<EB>.asdm.sdm.tar`` holding ``<EB>.asdm.sdm/``."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for eb in ebs:
        asdm = folder / "asdm" / eb
        make_asdm(asdm, eb)
        path = folder / f"{project}_{eb}.asdm.sdm.tar"
        with tarfile.open(path, "w") as tar:
            tar.add(asdm, f"{eb}.asdm.sdm")
        made.append(path)
    return made


class Deliveries:
    """Builds each delivery the first time a test asks for it."""

    def __init__(self, root: Path, templates: TableTemplates, conformance: Path) -> None:
        self.root = root
        self.templates = templates
        self.conformance = conformance
        self._made: dict[str, Delivery] = {}

    def get(self, name: str) -> Delivery:
        if name not in self._made:
            self._made[name] = getattr(self, "_" + name.replace("-", "_"))(self.root / name)
        return self._made[name]

    def _deliver(self, name: str, packpath: Path, ebs: list[str], pipeline: bool, naming: DeliveryNaming,
                 base: Path) -> Delivery:
        dest = base / "delivery"
        report = deliver(packpath, dest, naming=naming)
        return Delivery(name, packpath.name, packpath, dest, ebs, pipeline,
                        raw_tars(base / "raw", packpath.name, ebs), report.warnings)

    def _analyst_package(self, base: Path, project: str, options: PackageOptions) -> Path:
        tree = build_tree(base / "project229", project229_setup3(), self.templates) / SB3
        packpath = base / "pkg" / project
        package(tree, packpath, options)
        return packpath

    def _pi(self) -> Path:
        return self.conformance / PI_SCRIPT

    def _analyst_placeholders(self, base: Path) -> Delivery:
        options = PackageOptions(mode=Mode.COPY, style=Style.parse("cycle2-nopipe"), pi_script=self._pi())
        packpath = self._analyst_package(base, "2013.1.00229.S", options)
        return self._deliver("analyst-placeholders", packpath, ANALYST_EBS, False,
                             DeliveryNaming(mous_uid=ANALYST_MOUS), base)

    def _analyst_real_uids(self, base: Path) -> Delivery:
        uids = OusUids("uid___A001_X121_X227", "uid___A001_X121_X228", ANALYST_MOUS)
        options = PackageOptions(mode=Mode.HARD, style=Style.parse("cycle2-nopipe"), pi_script=self._pi(),
                                 ous_uids=uids)
        packpath = self._analyst_package(base, "2013.1.00229.S", options)
        return self._deliver("analyst-real-uids", packpath, ANALYST_EBS, False, DeliveryNaming(), base)

    def _demo(self, base: Path) -> Delivery:
        """The demo's own package (project229 of the wiki, a Cycle 0 code), packaged for real and delivered."""
        options = PackageOptions(mode=Mode.COPY, pi_script=self._pi())
        packpath = self._analyst_package(base, "2011.0.00229.S", options)
        return self._deliver("demo", packpath, ANALYST_EBS, False, DeliveryNaming(mous_uid=ANALYST_MOUS), base)

    def _two_members(self, base: Path) -> Delivery:
        tree = build_tree(base / "orig", FIG2, self.templates)
        packpath = base / "pkg" / "2013.1.00230.S"
        package(tree, packpath, PackageOptions(mode=Mode.COPY, style=Style.parse("cycle2-nopipe"), pi_script=self._pi()))
        uid_map = base / "uids.txt"
        uid_map.write_text("member_ouss_id   uid://A001/X121/X301\nmember_ouss_id2  uid://A001/X121/X302\n")
        ebs = ["uid___A002_X2222_Xa1", "uid___A002_X2222_Xb1", "uid___A002_X2222_Xb2"]
        return self._deliver("two-members", packpath, ebs, False, DeliveryNaming(uid_map=read_uid_map(uid_map)), base)

    def _staged(self, base: Path, era: str, real_uids: bool) -> Delivery:
        make_run, facts = ERAS[era]
        run = make_run(base / "runs")
        staged = base / "staged" / facts.project
        stage(run, staged, Mode.COPY, pi_script=self._pi(), real_uids=real_uids)
        ebs = facts.ebs
        return self._deliver(f"pipeline-{era}", staged, ebs, True, DeliveryNaming(), base)

    def _pipeline_cycle4(self, base: Path) -> Delivery:
        return self._staged(base, "cycle4", real_uids=False)

    def _pipeline_cycle5(self, base: Path) -> Delivery:
        return self._staged(base, "cycle5", real_uids=False)

    def _pipeline_current(self, base: Path) -> Delivery:
        return self._staged(base, "current", real_uids=False)

    def _pipeline_current_real_uids(self, base: Path) -> Delivery:
        return self._staged(base, "current", real_uids=True)

    def _pipeline_case2(self, base: Path) -> Delivery:
        """Case 2: the analyst restored a staged run with real uids, imaged, and packages for delivery."""
        staged = self.get("pipeline-current-real-uids")
        analysis = base / "analysis"
        restore_prep([*staged.tars, *staged.raw], analysis, spacesaving=1)
        member = next(analysis.rglob("script")).parent
        outcome = run_script_for_pi(self.conformance, sys.executable, self._pi(), member / "script", 1)
        assert outcome["ending"] == "completed", outcome["ending"]
        make_fits(member / "calibrated" / "Target.spw16.cube.manual.pbcor.fits", size=32)
        (member / "calibrated" / "scriptForImaging.py").write_text("tclean(vis='calibrated.ms')\n")
        (member / "calibrated" / "imaging.log").write_text("imaging log\n")
        packpath = base / "pkg" / CURRENT.project
        package(analysis / CURRENT.project, packpath, PackageOptions(mode=Mode.HARD, style=Style.parse("cycle7-pipe")))
        return self._deliver("pipeline-case2", packpath, staged.ebs, True, DeliveryNaming(), base)


def run_script_for_pi(conformance: Path, python: str, script: Path, script_dir: Path, spacesaving: int,
                      pipeline: bool = True) -> dict[str, object]:
    """Run a real scriptForPI.py in ``script_dir`` under ``python`` with CASA as recorders; return the outcome."""
    command = [python, str(HARNESS / "casa_session.py"), str(script), str(script_dir), str(spacesaving)]
    if pipeline and sys.version_info >= (3,) and python == sys.executable:
        command.append(str(conformance))
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output, _, result = done.stdout.rpartition("=== results ===\n")
    if not result:
        raise AssertionError(f"the CASA session did not finish:\n{done.stdout}\n{done.stderr}")
    outcome: dict[str, object] = json.loads(result)
    outcome["stdout"] = output
    outcome["stderr"] = done.stderr
    return outcome


def restore(delivery: Delivery, into: Path, write_ppr: bool = False) -> Path:
    """Prepare a delivery and its raw data as a PI does; return the member's script/ folder."""
    if into.exists():
        shutil.rmtree(into)
    restore_prep([*delivery.tars, *delivery.raw], into, spacesaving=1, write_ppr=write_ppr)
    (script,) = [p for p in into.rglob("script") if p.is_dir()]
    return script
