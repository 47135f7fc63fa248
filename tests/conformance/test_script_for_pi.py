"""scriptForPI.py of 2014 (v1.11, Python 2 / CASA 4) and 2022 (v1.34, Python 3 / CASA 6) on restored deliveries.

Each delivery is prepared with ``restore-prep`` from its product tars and raw ASDM tars, as a PI
would, and the real script runs in its ``script/`` folder with CASA's tasks replaced by recorders.
For pipeline deliveries under v1.34, ``hifa_restoredata`` is the pipeline's own restore code: it
finds the manifest, copies every product the manifest names from ``calibration/`` and extracts
each session's caltables.  The tests assert what the script decided: that it reached its end
with no ``ERROR``, which calibration it ran for which EB, and that the calibrated data it checks
for exist.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deliveries import ANALYST_EBS, Deliveries, restore, run_script_for_pi

V134 = "scriptForPI/scriptForPI_v1.34_2022.py"
V111 = "scriptForPI/scriptForPI_v1.11_2014.py"


@pytest.fixture(scope="session")
def deliveries(tmp_path_factory: pytest.TempPathFactory, templates, conformance: Path) -> Iterator[Deliveries]:
    yield Deliveries(tmp_path_factory.mktemp("deliveries"), templates, conformance)


def tasks(outcome: dict, name: str) -> list[dict]:
    return [c for c in outcome["calls"] if c["task"] == name]  # type: ignore[union-attr]


def assert_reached_the_end(outcome: dict) -> None:
    stdout = str(outcome["stdout"])
    assert outcome["ending"] == "completed", f"{outcome['ending']}\n{stdout}\n{outcome['stderr']}"
    assert "ERROR" not in stdout, stdout
    assert "Done. Please find results" in stdout


@pytest.mark.parametrize("name", ["analyst-placeholders", "analyst-real-uids"])
def test_v134_recalibrates_every_eb_of_an_analyst_delivery(name: str, deliveries: Deliveries, conformance: Path,
                                                          tmp_path: Path) -> None:
    script = restore(deliveries.get(name), tmp_path / "restore")
    outcome = run_script_for_pi(conformance, sys.executable, conformance / V134, script, 1)
    assert_reached_the_end(outcome)
    calibrated = script.parent / "calibrated"
    assert sorted(p.name for p in calibrated.glob("*.ms.split.cal")) == sorted(f"{eb}.ms.split.cal" for eb in ANALYST_EBS)
    imported = sorted(c["kwargs"]["vis"] for c in tasks(outcome, "importasdm"))
    assert imported == sorted(f"{eb}.ms" for eb in ANALYST_EBS)  # each EB's own script ran in its folder
    assert all(c["cwd"].endswith(f"calibrated/{c['kwargs']['vis'][:-3]}.calibration") for c in tasks(outcome, "importasdm"))
    assert tasks(outcome, "concat")  # scriptForFluxCalibration.py ran last


def test_v111_recalibrates_an_analyst_delivery_under_python2(deliveries: Deliveries, conformance: Path, python2: str,
                                                            tmp_path: Path) -> None:
    script = restore(deliveries.get("analyst-placeholders"), tmp_path / "restore")
    outcome = run_script_for_pi(conformance, python2, conformance / V111, script, 1)
    assert_reached_the_end(outcome)
    assert sorted(p.name for p in (script.parent / "calibrated").glob("*.ms.split.cal")) == sorted(
        f"{eb}.ms.split.cal" for eb in ANALYST_EBS)


@pytest.mark.parametrize("name", ["pipeline-cycle4", "pipeline-cycle5", "pipeline-current",
                                  "pipeline-current-real-uids"])
def test_v134_restores_a_pipeline_delivery_with_the_pipelines_own_restore(name: str, deliveries: Deliveries,
                                                                         conformance: Path, tmp_path: Path) -> None:
    delivery = deliveries.get(name)
    script = restore(delivery, tmp_path / "restore")
    outcome = run_script_for_pi(conformance, sys.executable, conformance / V134, script, 1)
    assert_reached_the_end(outcome)
    (restored,) = tasks(outcome, "hifa_restoredata")
    assert sorted(restored["kwargs"]["vis"]) == sorted(delivery.ebs)
    (made,) = tasks(outcome, "restored")
    assert sorted(made["args"]) == sorted(f"{eb}.ms" for eb in delivery.ebs)
    working = script.parent / "calibrated" / "working"
    # The pipeline's restore found every caltable, flag version and apply list in calibration/ ...
    rawdata = script.parent / "calibrated" / "rawdata"
    assert sorted(p.name for p in rawdata.glob("*.ms.flagversions.tgz")) == sorted(
        f"{eb}.ms.flagversions.tgz" for eb in delivery.ebs)
    # ... and extracted each EB's caltables from its session's tar.
    for eb in delivery.ebs:
        assert list(working.glob(f"{eb}.ms.hifa_bandpass.*.tbl")), eb
    split = tasks(outcome, "mstransform")
    assert sorted(c["kwargs"]["outputvis"] for c in split) == sorted(f"{eb}.ms.split.cal" for eb in delivery.ebs)


def test_v111_restores_a_cycle4_pipeline_delivery_under_python2(deliveries: Deliveries, conformance: Path,
                                                              python2: str, tmp_path: Path) -> None:
    delivery = deliveries.get("pipeline-cycle4")
    script = restore(delivery, tmp_path / "restore")
    outcome = run_script_for_pi(conformance, python2, conformance / V111, script, 1)
    assert_reached_the_end(outcome)
    assert sorted(c["kwargs"]["outputvis"] for c in tasks(outcome, "split")) == sorted(
        f"{eb}.ms.split.cal" for eb in delivery.ebs)


def test_a_missing_restore_product_is_what_the_pipeline_restore_trips_on(deliveries: Deliveries, conformance: Path,
                                                                        tmp_path: Path) -> None:
    # A negative control: without one EB's apply list the pipeline's own restore stops, as it would in CASA.
    delivery = deliveries.get("pipeline-current")
    script = restore(delivery, tmp_path / "restore")
    (applylist,) = (script.parent / "calibration").glob(f"{delivery.ebs[0]}.ms.calapply.txt")
    applylist.unlink()
    outcome = run_script_for_pi(conformance, sys.executable, conformance / V134, script, 1)
    assert str(outcome["ending"]).startswith("crashed") and "calapply.txt" in str(outcome["ending"])
