"""``qa2pack demo --casa``: a small but real QA2 reduction with CASA, delivered and restored by scriptForPI.py.

Every CASA step runs in its own Python process (:mod:`.session`), with a CASA site configuration that
points at the ``casadata`` package's measures and turns the automatic data updates off, so the
demo runs offline.  Each step's output goes to ``logs/<step>.log`` in the demo folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tarfile
import time
from pathlib import Path
from typing import Any, Callable

from ...core.errors import ExecutionError, InputError
from ...core.model import Mode, Style
from ...core.options import PackageOptions
from ...core.record import field, record
from ...delivery.deliver import deliver
from ...delivery.uids import DeliveryNaming
from ...restore.prepare import restore_prep
from . import scripts
from .session import run_in_process

PROJECT = "2019.1.00001.S"
SB = "B3_IRAS19312"
MOUS = "uid___A001_X1467_X2b3"
EBS = {"uid___A002_Xf0a1_X1e5": "2024/06/01/03:00:00", "uid___A002_Xf0a3_X2b7": "2024/06/02/03:30:00"}
TOLERANCE = 1e-6  # largest difference of restored and original data, relative to the largest amplitude
INSTALL_HINT = "pip install 'qa2pack[casa]'"


@record(frozen=False)
class CasaDemo:
    """Where the demo's parts are, and what each step took."""

    root: Path
    steps: list[tuple[str, float]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    restored: Path | None = None

    @property
    def sb_dir(self) -> Path:
        """The SB folder the ASDMs arrive in (as after ``workspace download``)."""
        return self.root / PROJECT / SB

    @property
    def reduction(self) -> Path:
        """The analyst's reduction folder that ``workspace start`` makes."""
        return self.sb_dir / SB

    @property
    def logs(self) -> Path:
        """Each CASA step's output."""
        return self.root / "logs"


def check_casa() -> Path:
    """Return the measures data of the ``casadata`` package, or refuse when CASA's pip packages are missing."""
    missing = [name for name in ("casatools", "casatasks", "casadata") if importlib.util.find_spec(name) is None]
    if missing:
        raise InputError(f"demo --casa needs CASA's pip packages ({', '.join(missing)} missing): {INSTALL_HINT}")
    spec = importlib.util.find_spec("casadata")
    assert spec is not None and spec.origin is not None  # noqa: S101 - found just above
    return Path(spec.origin).parent / "__data__"


def run_casa(demo: CasaDemo, step: str, script: Path, settings: tuple[str, ...] = ()) -> None:
    """Run ``script`` in its folder in a CASA session; a failure names the step and its log."""
    demo.logs.mkdir(exist_ok=True)
    log_file = demo.logs / f"{step}.log"
    started = time.monotonic()
    code = run_in_process(script, settings, log_file, {"CASASITECONFIG": str(demo.root / "casasiteconfig.py")})
    demo.steps.append((step, time.monotonic() - started))
    if code != 0:
        raise ExecutionError(f"CASA step '{step}' failed (exit {code}); see {log_file}")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _timed(demo: CasaDemo, step: str, work: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = work()
    demo.steps.append((step, time.monotonic() - started))
    return result


def simulate(demo: CasaDemo) -> list[Path]:
    """Simulate each execution and export it as an ASDM into the SB folder, as if downloaded."""
    asdms = []
    for number, (uid, start) in enumerate(EBS.items(), start=1):
        folder = demo.root / "simulation" / uid
        script = _write(folder / "simulate.py", scripts.SIMULATE.format(
            sb=SB, uid=uid, fields=scripts.FIELDS, scans=scripts.SCANS, start=start, seed=number,
            range_id=uid.split("_")[-2]))
        run_casa(demo, f"simulate-{uid}", script)
        demo.sb_dir.mkdir(parents=True, exist_ok=True)
        os.replace(folder / uid, demo.sb_dir / uid)
        asdms.append(demo.sb_dir / uid)
    return asdms


def calibrate(demo: CasaDemo, eb_folders: dict[str, Path]) -> None:
    """Write and run each EB's calibration script in its EB folder (CASA's caltables, flags, fluxscale, plots)."""
    flux = scripts.FIELDS[scripts.BANDPASS][1]
    for uid, folder in sorted(eb_folders.items()):
        script = _write(folder / f"{uid}.ms.scriptForCalibration.py", scripts.CALIBRATION.format(
            uid=uid, sb=SB, bandpass=scripts.BANDPASS, phase=scripts.PHASE, target=scripts.TARGET, flux=flux))
        run_casa(demo, f"calibrate-{uid}", script)


def image(demo: CasaDemo) -> None:
    """Flux calibration and imaging in calibrated/: a real beam and rms for the README."""
    calibrated = demo.reduction / "calibrated"
    flux = _write(calibrated / "scriptForFluxCalibration.py",
                  scripts.FLUX_CALIBRATION.format(sb=SB, bandpass=scripts.BANDPASS))
    run_casa(demo, "flux-calibration", flux)
    imaging = _write(calibrated / "scriptForImaging.py", scripts.IMAGING.format(sb=SB, target=scripts.TARGET))
    run_casa(demo, "imaging", imaging)


def raw_tars(demo: CasaDemo) -> list[Path]:
    """Tar the raw data as the archive hands them out: ``<Project>_<EB uid>.asdm.sdm.tar`` each."""
    tars = []
    folder = demo.root / "raw"
    folder.mkdir(exist_ok=True)
    for uid in EBS:
        tar_path = folder / f"{PROJECT}_{uid}.asdm.sdm.tar"
        with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(demo.sb_dir / uid, arcname=uid)
        tars.append(tar_path)
    return tars


def restore_with_script_for_pi(demo: CasaDemo, restored_script: Path) -> None:
    """Run the delivered scriptForPI.py with real CASA in the restored member's script/ folder."""
    run_casa(demo, "scriptForPI", restored_script / "scriptForPI.py", ("SPACESAVING=1",))


def compare(demo: CasaDemo, member: Path, eb_folders: dict[str, Path]) -> list[dict[str, Any]]:
    """Compare each restored calibrated MS with the analyst's, in a CASA session."""
    pairs = [(str(member / "calibrated" / f"{uid}.ms.split.cal"), str(eb_folders[uid] / f"{uid}.ms.split.cal"))
             for uid in sorted(eb_folders)]
    output = demo.root / "comparison.json"
    script = _write(demo.root / "compare" / "compare.py", scripts.COMPARE.format(
        pairs=pairs, tolerance=TOLERANCE, output=str(output)))
    run_casa(demo, "compare", script)
    verdicts: list[dict[str, Any]] = json.loads(output.read_text())
    return verdicts


def run_casa_demo(root: Path, pi_script: Path | None, prepare: Callable[[Path], None],
                  say: Callable[[str], None] = lambda text: None) -> CasaDemo:
    """Reduce, package, deliver and restore a simulated SB of two EBs with real CASA; compare the restored data."""
    from ...api import package
    from ..workspace import fluxequal_start, start

    measures = check_casa()
    if pi_script is not None and not Path(pi_script).is_file():
        raise InputError(f"PI script does not exist or is not a file: {pi_script}")
    prepare(root)
    demo = CasaDemo(root.absolute())
    _write(demo.root / "casasiteconfig.py", f"measurespath = {str(measures)!r}\nmeasures_auto_update = False\n"
                                            "data_auto_update = False\n")
    say(f"simulating {len(EBS)} executions of {SB} with CASA (simulator, exportasdm)")
    simulate(demo)
    say("qa2pack workspace start: the SB's working tree")
    started = _timed(demo, "workspace start", lambda: start(demo.sb_dir, project=PROJECT, pi_script=pi_script))
    say("calibrating each EB with its scriptForCalibration.py (importasdm ... split to .ms.split.cal)")
    calibrate(demo, started.eb_folders)
    _timed(demo, "workspace fluxequal-start", lambda: fluxequal_start(demo.sb_dir))
    say("flux calibration and imaging in calibrated/ (tclean, exportfits)")
    image(demo)
    packpath = demo.root / "package" / PROJECT
    options = PackageOptions(mode=Mode.HARD, style=Style.parse("cycle7-nopipe"), readme=demo.sb_dir / "README.header.txt",
                             pi_script=pi_script)
    say(f"qa2pack package --mode hard into {packpath}")
    _timed(demo, "package", lambda: package(demo.reduction, packpath, options))
    delivery = demo.root / "delivery"
    say(f"qa2pack deliver into {delivery}")
    delivered = _timed(demo, "deliver", lambda: deliver(packpath, delivery, naming=DeliveryNaming(mous_uid=MOUS)))
    tars = [delivery / name for name, _, _ in delivered.tars] + raw_tars(demo)
    restore = demo.root / "restore"
    say(f"qa2pack restore-prep into {restore}")
    report = _timed(demo, "restore-prep", lambda: restore_prep(tars, restore, spacesaving=1))
    member = report.members[0].folder
    demo.restored = member
    if pi_script is None:
        say("no scriptForPI.py given (--pi-script): the restore stops here")
        return demo
    say("scriptForPI.py with real CASA in the restored script/ folder")
    restore_with_script_for_pi(demo, member / "script")
    demo.verdicts = compare(demo, member, started.eb_folders)
    return demo
