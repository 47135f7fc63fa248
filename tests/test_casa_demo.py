"""The real-CASA demo: simulate, calibrate and image with CASA, package, deliver, restore with the real scriptForPI.py.

Needs CASA's pip packages (the ``[casa]`` extra, which ``.ci/run`` installs) and the real
scriptForPI.py of ``../shared/conformance``; skipped without them.  About a minute.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from qa2pack.analyst.casa import reduction
from qa2pack.cli import main

# CASA is never imported here (it needs its site configuration, which each CASA step gets).
pytestmark = [pytest.mark.casa,
              pytest.mark.skipif(importlib.util.find_spec("casatools") is None,
                                 reason="CASA's pip packages are not installed: pip install -e '.[casa]'")]

SHARED = [Path(os.environ.get("QA2PACK_CONFORMANCE", "")), Path(__file__).resolve().parents[2] / "shared" / "conformance",
          Path("/work/shared/conformance")]


@pytest.fixture(scope="module")
def pi_script() -> Path:
    for folder in SHARED:
        script = folder / "scriptForPI" / "scriptForPI_v1.34_2022.py"
        if folder.name and script.is_file():
            return script
    pytest.skip("the real scriptForPI.py (../shared/conformance) is not on this machine")


@pytest.fixture(scope="module")
def casa_demo(tmp_path_factory: pytest.TempPathFactory, pi_script: Path) -> dict:
    root = tmp_path_factory.mktemp("casa") / "demo"
    out = tmp_path_factory.mktemp("casa-out") / "demo.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(["demo", str(root), "--casa", "--pi-script", str(pi_script), "--json"])
    out.write_text(buffer.getvalue())
    document = json.loads(buffer.getvalue())
    document["exit_code"] = code
    return document


def test_the_restored_calibrated_data_equal_the_analysts(casa_demo: dict) -> None:
    assert casa_demo["exit_code"] == 0 and casa_demo.get("ok"), casa_demo.get("error", casa_demo.get("text"))
    verdicts = casa_demo["comparison"]
    assert [Path(v["restored"]).name for v in verdicts] == [f"{uid}.ms.split.cal" for uid in sorted(reduction.EBS)]
    for verdict in verdicts:
        assert verdict["equal"] and verdict["rows"] == verdict["rows_original"] > 10_000
        assert verdict["max_difference"] <= reduction.TOLERANCE and verdict["flags_equal"]
    steps = [step["step"] for step in casa_demo["steps"]]
    assert steps[-2:] == ["scriptForPI", "compare"]
    assert sum(step["seconds"] for step in casa_demo["steps"]) < 300  # the budget: five minutes


def test_the_delivery_holds_what_casa_made(casa_demo: dict) -> None:
    root = Path(casa_demo["root"])
    member = root / "package" / reduction.PROJECT / "sg_ouss_id" / "group_ouss_id" / "member_ouss_id"
    uid = sorted(reduction.EBS)[0]
    tables = member / "calibration" / f"{uid}.calibration"
    calibration = {p.name for p in tables.iterdir()}
    for suffix in (".ms.split.bandpass", ".ms.split.phase_int", ".ms.split.ampli_inf", ".ms.split.flux_inf",
                   ".ms.split.fluxscale", ".ms.split.flagversions"):
        assert f"{uid}{suffix}" in calibration, sorted(calibration)
    assert "Calibration" in (tables / f"{uid}.ms.split.bandpass" / "table.info").read_text()  # written by CASA
    assert "Flux density for" in (tables / f"{uid}.ms.split.fluxscale").read_text()
    assert (member / "qa" / f"{uid}__qa2_part1.png").read_bytes().startswith(b"\x89PNG")
    scripts = {p.name for p in (member / "script").iterdir()}
    assert {f"{uid}.ms.scriptForCalibration.py", "scriptForFluxCalibration.py", "scriptForImaging.py",
            "scriptForPI.py"} <= scripts
    readme = (member / "README").read_text()
    [image_line] = [line for line in readme.splitlines() if line.startswith("IRAS19312+1950.cont.image.pbcor.fits")]
    assert " x " in image_line.split("97.6")[1] and "Jy/beam" in image_line  # beam and rms of CASA's own FITS
    restored = Path(casa_demo["restored"])
    assert sorted(p.name for p in (restored / "raw").iterdir()) == [f"{u}.asdm.sdm" for u in sorted(reduction.EBS)]


def test_a_difference_in_the_restored_data_is_found(casa_demo: dict, tmp_path: Path) -> None:
    """The comparison is not a formality: one changed visibility makes it fail."""
    restored = Path(casa_demo["restored"]) / "calibrated"
    uid = sorted(reduction.EBS)[0]
    copy = tmp_path / "calibrated" / f"{uid}.ms.split.cal"
    shutil.copytree(restored / f"{uid}.ms.split.cal", copy)
    from casacore.tables import table

    with table(str(copy), readonly=False, ack=False) as ms:
        data = ms.getcell("DATA", 100)
        data[3, 0] += 0.5
        ms.putcell("DATA", 100, data)
    demo = reduction.CasaDemo(Path(casa_demo["root"]))
    original = Path(casa_demo["reduction"]) / f"X{uid.split('_X')[-1]}"
    [verdict] = reduction.compare(demo, copy.parent.parent, {uid: original})
    assert not verdict["equal"] and verdict["max_difference"] > reduction.TOLERANCE


def test_without_casa_the_demo_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "casatasks" else real(name, *a))
    assert main(["demo", str(tmp_path / "d"), "--casa"]) == 2
    assert capsys.readouterr().err == ("qa2pack: error: demo --casa needs CASA's pip packages (casatasks missing): "
                                       "pip install 'qa2pack[casa]'\n")
    assert not (tmp_path / "d").exists()
