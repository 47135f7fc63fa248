"""Processing requests: sessions as the pipeline writes and reads them, and the restore PPR qa2pack writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from qa2pack.analyst.pipeline_runs import CURRENT, ppr_xml
from qa2pack.core.errors import PipelineRunError
from qa2pack.pipeline.ppr import RestoreRequest, read_ppr, session_value, split_session, unread_sessions, write_restore_ppr

C = CURRENT


def _ppr(tmp_path: Path, sessions: dict[str, list[str]], separator: str = " | ") -> Path:
    path = tmp_path / "PPR.xml"
    path.write_text(ppr_xml(C.project, C.run, C.sous, C.gous, C.mous, sessions, separator=separator))
    return path


def test_sessions_of_several_ebs_are_joined_and_split_like_the_pipeline(tmp_path: Path) -> None:
    assert session_value(["uid___A002_Xc89480_X5f49", "uid___A002_Xc89480_X67a2"]) == (
        "uid://A002/Xc89480/X5f49 | uid://A002/Xc89480/X67a2")
    assert split_session("uid://A002/Xc89480/X5f49 | uid://A002/Xc89480/X67a2") == (
        "uid___A002_Xc89480_X5f49", "uid___A002_Xc89480_X67a2")
    assert split_session("uid://A002/X1/X2,uid://A002/X1/X3") == ("uid___A002_X1_X2", "uid___A002_X1_X3")
    for separator in (" | ", ","):
        assert read_ppr(_ppr(tmp_path, C.sessions, separator)).sessions == {
            k: tuple(v) for k, v in C.sessions.items()}


def test_sessions_may_start_at_any_number_and_the_pipeline_reads_up_to_the_first_gap(tmp_path: Path) -> None:
    request = read_ppr(_ppr(tmp_path, {"SESSION_2": ["uid___A002_X1_X2"], "SESSION_10": ["uid___A002_X1_X3"],
                                       "SESSION_3": ["uid___A002_X1_X4"]}))
    assert list(request.sessions) == ["SESSION_2", "SESSION_3", "SESSION_10"]  # in number order
    assert unread_sessions(request.sessions) == ["SESSION_2", "SESSION_3", "SESSION_10"]
    assert unread_sessions({"SESSION_1": (), "SESSION_2": (), "SESSION_4": ()}) == ["SESSION_4"]
    assert unread_sessions(dict(C.sessions)) == []


def test_a_bad_eb_in_a_session_is_one_clear_error(tmp_path: Path) -> None:
    path = _ppr(tmp_path, C.sessions)
    path.write_text(path.read_text().replace("uid://A002/Xc7111c/X86a7", "not-a-uid"))
    with pytest.raises(PipelineRunError, match="not an ALMA uid: 'not-a-uid'"):
        read_ppr(path)


def test_the_restore_ppr_keeps_the_delivered_structure_and_names_every_eb(tmp_path: Path) -> None:
    delivered = read_ppr(_ppr(tmp_path, C.sessions))
    out = tmp_path / "restore.xml"
    write_restore_ppr(out, RestoreRequest(C.project, C.mous, delivered.sessions, C.sous, C.gous, delivered))
    written = read_ppr(out)
    assert (written.project, written.mous, written.sous, written.gous) == (C.project, C.mous, C.sous, C.gous)
    assert written.sessions == delivered.sessions and written.recipe == "hifa_restoredata"
    structure = ET.parse(out).getroot().find("ProjectStructure")
    assert structure is not None
    assert [e.tag for e in structure] == ["ObsUnitSetRef", "ObsUnitSetTitle", "ObsUnitSetType", "ProjectStatusRef",
                                          "OUSStatusRef"]
    assert structure.find("ObsUnitSetRef").get("partId") == "X1676983643"  # type: ignore[union-attr]
    lines = [line for line in out.read_text().splitlines() if "SESSION_1" in line or "AsdmDiskName" in line]
    assert all(line.strip().startswith("<") and line.strip().endswith(">") for line in lines)  # one per line


def test_a_restore_ppr_from_a_manifest_alone_marks_what_it_does_not_know(tmp_path: Path) -> None:
    out = tmp_path / "restore.xml"
    write_restore_ppr(out, RestoreRequest("2019.1.00001.S", "uid___A001_X1_X4", {"SESSION_1": ["uid___A002_X1_X2"]}))
    root = ET.parse(out).getroot()
    assert root.find("ProjectStructure/ObsUnitSetRef").get("entityId") == "unknown"  # type: ignore[union-attr]
    assert root.find("ProjectStructure/OUSStatusRef").get("entityId") == "uid://A001/X1/X4"  # type: ignore[union-attr]
    assert read_ppr(out).sessions == {"SESSION_1": ("uid___A002_X1_X2",)}
