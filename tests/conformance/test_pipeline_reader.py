"""The pipeline's own PPR reader (executeppr) and manifest code, on every PPR and manifest qa2pack reads or writes.

For each PPR: the real reader must accept it, and qa2pack must read the same member OUS, sessions
and EBs from it.  For each restore PPR qa2pack writes: the real reader derives the same project
structure, sessions and EBs as from the delivered PPR, and ``executeppr`` itself, run on it,
calls ``hifa_restoredata`` with every ASDM and its session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deliveries import Deliveries, restore
from harness.pipeline_stub import real_pipeline
from qa2pack.analyst.pipeline_runs import CURRENT, CYCLE5, RECIPE, manifest_xml, ppr_xml
from qa2pack.pipeline.manifest import read_pipeline_manifest
from qa2pack.pipeline.ppr import read_ppr

REAL_PPR = "sgrb2-3mm/script_12m/PPR_uid___A001_X121_X4bb.xml"


@pytest.fixture(scope="session")
def deliveries(tmp_path_factory: pytest.TempPathFactory, templates, conformance: Path) -> Iterator[Deliveries]:
    yield Deliveries(tmp_path_factory.mktemp("deliveries"), templates, conformance)


@pytest.fixture
def pipeline(conformance: Path) -> Iterator:
    with real_pipeline(conformance) as loaded:
        yield loaded


def pipeline_reading(pipeline, path: Path) -> tuple[dict, dict, list]:
    """What the pipeline reads from a PPR: its project structure, sessions and ASDM list."""
    reader = pipeline.executeppr
    info, structure, relative, intents, asdms, procedure, commands = reader._getFirstRequest(str(path))
    return dict(structure), reader._getSessions(intents), asdms


def qa2pack_sessions(path: Path) -> dict[str, list[str]]:
    return {k: list(v) for k, v in read_ppr(path).sessions.items()}


def ppr_forms(tmp_path: Path, realdata: Path | None) -> dict[str, Path]:
    forms = {}
    c = CURRENT
    for name, sessions, separator in (
            ("multi-eb", c.sessions, " | "),
            ("comma", c.sessions, ","),
            ("one-eb", {"SESSION_1": ["uid___A002_Xc7111c_X3979"]}, " | "),
            ("second-session-first", {"SESSION_2": ["uid___A002_Xc89480_X5f49"],
                                      "SESSION_3": ["uid___A002_Xc89480_X67a2"]}, " | ")):
        path = tmp_path / f"{name}.xml"
        path.write_text(ppr_xml(c.project, c.run, c.sous, c.gous, c.mous, sessions, separator=separator))
        forms[name] = path
    if realdata is not None:
        forms["real-cycle2"] = realdata / REAL_PPR
    return forms


@pytest.mark.parametrize("form", ["multi-eb", "one-eb", "second-session-first", "real-cycle2"])
def test_qa2pack_reads_every_ppr_form_as_the_pipeline_does(form: str, pipeline, tmp_path: Path,
                                                          request: pytest.FixtureRequest) -> None:
    realdata = request.getfixturevalue("realdata") if form == "real-cycle2" else None  # skips if absent
    path = ppr_forms(tmp_path, realdata)[form]
    structure, sessions, asdms = pipeline_reading(pipeline, path)
    ours = read_ppr(path)
    assert structure["ousstatus_entity_id"][1].replace(":", "_").replace("/", "_") == ours.mous
    assert sorted(a[1] for a in asdms) == sorted(ours.asdms)
    # The pipeline reads sessions from SESSION_1 up and stops at the first missing number; qa2pack
    # reads every SESSION_n (a restore names its sessions itself), and agrees wherever both read.
    assert all(qa2pack_sessions(path)[key] == value for key, value in sessions.items())
    if form == "second-session-first":
        assert sessions == {} and list(ours.sessions) == ["SESSION_2", "SESSION_3"]
    else:
        assert qa2pack_sessions(path) == sessions


def test_a_session_of_several_ebs_is_joined_as_the_pipeline_splits_it(pipeline, tmp_path: Path) -> None:
    path = ppr_forms(tmp_path, None)["multi-eb"]
    _, sessions, _ = pipeline_reading(pipeline, path)
    assert sessions["SESSION_1"] == ["uid___A002_Xc7111c_X3979", "uid___A002_Xc7111c_X409e"]
    # The old comma form is read by qa2pack too (as one EB by the pipeline, which splits on " | ").
    assert qa2pack_sessions(ppr_forms(tmp_path, None)["comma"])["SESSION_1"] == sessions["SESSION_1"]


@pytest.mark.parametrize("name", ["pipeline-cycle4", "pipeline-cycle5", "pipeline-current"])
def test_the_restore_ppr_reads_as_the_delivered_one(name: str, deliveries: Deliveries, pipeline,
                                                    tmp_path: Path) -> None:
    delivery = deliveries.get(name)
    script = restore(delivery, tmp_path / "restore", write_ppr=True)
    (written,) = script.parent.glob("PPR_*_restore.xml")
    (delivered,) = [p for p in script.iterdir() if p.name.startswith("PPR") or p.name.endswith("pprequest.xml")]
    structure, sessions, asdms = pipeline_reading(pipeline, written)
    assert (structure, sessions) == pipeline_reading(pipeline, delivered)[:2]
    assert sorted(a[2] for a in asdms) == sorted(a[2] for a in pipeline_reading(pipeline, delivered)[2])
    assert sorted(a[1] for a in asdms) == sorted(delivery.ebs)
    # scriptForPI.py reads the ASDM names line by line: each AsdmDiskName on one line.
    lines = [line for line in written.read_text().splitlines() if "<AsdmDiskName>" in line]
    assert sorted(line[line.index("uid"):line.index("</")] for line in lines) == sorted(delivery.ebs)


def test_executeppr_runs_the_restore_ppr(deliveries: Deliveries, pipeline, tmp_path: Path, monkeypatch) -> None:
    delivery = deliveries.get("pipeline-current")
    script = restore(delivery, tmp_path / "restore", write_ppr=True)
    (written,) = script.parent.glob("PPR_*_restore.xml")
    working = tmp_path / "run" / "working"
    working.mkdir(parents=True)
    monkeypatch.chdir(working)
    monkeypatch.delenv("SCIPIPE_ROOTDIR", raising=False)
    pipeline.executeppr.executeppr(str(written), importonly=False)
    assert "Terminating pipeline execution" not in "\n".join(pipeline.log)
    ((task, arguments),) = pipeline.calls
    assert task == "hifa_restoredata"
    rawdata = str(tmp_path / "run" / "rawdata")
    sessions = {eb: keyword.lower() for keyword, ebs in CURRENT.sessions.items() for eb in ebs}
    assert sorted(zip(arguments["vis"], arguments["session"])) == sorted(
        (f"{rawdata}/{eb}", session) for eb, session in sessions.items())


def test_the_factory_manifest_is_what_the_pipeline_writes_and_reads(pipeline, tmp_path: Path) -> None:
    c = CYCLE5
    sessions = {k.lower(): v for k, v in c.sessions.items()}
    caltables = {s: f"{c.mous}.{s}.caltables.tgz" for s in sessions}
    written = pipeline.manifest.PipelineManifest(c.mous)
    ous = written.set_ous(c.mous)
    for session, ebs in sessions.items():
        element = written.set_session(ous, session)
        written.add_caltables(element, caltables[session], session, ous_name=c.mous, level="member")
        for eb in ebs:
            written.add_asdm_imlist(element, eb, None, f"{eb}.ms.flagversions.tgz", f"{eb}.ms.calapply.txt", [],
                                    "target")
    written.add_aux_products_file(ous, f"{c.mous}.{RECIPE}.auxproducts.tgz", ous_name=c.mous, level="member")
    real = tmp_path / "real_manifest.xml"
    written.write(str(real))
    ours = tmp_path / "factory_manifest.xml"
    ours.write_text(manifest_xml(c.mous, sessions, caltables, f"{c.mous}.{RECIPE}.auxproducts.tgz"))
    for path in (real, ours):
        reader = pipeline.manifest.PipelineManifest("")
        reader.import_xml(str(path))
        top = reader.get_ous()
        facts = read_pipeline_manifest(path)
        assert dict(reader.get_caltables(top)) == facts.caltables == caltables
        assert dict(reader.get_final_flagversions(top)) == facts.flagversions
        assert dict(reader.get_applycals(top)) == facts.applycals
        assert facts.sessions == {k: tuple(v) for k, v in sessions.items()} and facts.ous == c.mous
        assert facts.aux_products == (f"{c.mous}.{RECIPE}.auxproducts.tgz",)
