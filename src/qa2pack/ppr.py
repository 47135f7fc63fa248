"""Read (and write) ALMA pipeline processing requests (PPR, ``SciPipeRequest`` XML).

Only what packaging needs: the project code, the OUS uids (the MOUS is the
``OUSStatusRef entityId``; the SOUS and GOUS come from the run's ``RelativePath``), the
sessions with their EBs, and the ASDM names.  Elements are matched by local name, so the
namespaced documents of different pipeline versions read the same.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - the usual name
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_atomic
from .errors import PipelineRunError
from .naming import normalize_uid

_RUN_PATH_RE = re.compile(r"SOUS_(uid___\w+?)/GOUS_(uid___\w+?)/MOUS_(uid___\w+?)(?:/|$)")


@dataclass(frozen=True)
class ProcessingRequest:
    """The facts of one PPR."""

    path: Path
    project: str | None
    mous: str
    sous: str | None = None
    gous: str | None = None
    sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # SESSION_1 -> EB uids
    asdms: tuple[str, ...] = ()  # AsdmDiskName values
    recipe: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _text(root: ET.Element, name: str) -> str | None:
    found = _find_all(root, name)
    return (found[0].text or "").strip() or None if found else None


def read_ppr(path: Path) -> ProcessingRequest:
    """Parse a PPR; a file that is not one, or names no OUS, is a :class:`PipelineRunError`."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - a local file the user points at
    except ET.ParseError as exc:
        raise PipelineRunError(f"the PPR {path} is not valid XML ({exc})") from None
    except OSError as exc:
        raise PipelineRunError(f"cannot read the PPR {path}: {exc.strerror}") from None
    if _local(root.tag) != "SciPipeRequest":
        raise PipelineRunError(f"{path} is not a pipeline processing request (root element {_local(root.tag)})")
    refs = _find_all(root, "OUSStatusRef")
    entity = refs[0].get("entityId") if refs else None
    if not entity:
        raise PipelineRunError(f"the PPR {path} has no OUSStatusRef entityId: the member OUS is unknown")
    sous = gous = None
    for relative in _find_all(root, "RelativePath"):
        match = _RUN_PATH_RE.search((relative.text or "").strip())
        if match:
            sous, gous = match.group(1), match.group(2)
            break
    sessions: dict[str, list[str]] = {}
    for intent in _find_all(root, "Intents"):
        keyword = _text(intent, "Keyword") or ""
        value = _text(intent, "Value") or ""
        if keyword.startswith("SESSION_") and value:
            sessions.setdefault(keyword, []).extend(normalize_uid(v) for v in value.split(","))
    asdms = tuple(e.text.strip() for e in _find_all(root, "AsdmDiskName") if e.text and e.text.strip())
    recipe = _text(root, "ProcedureTitle") or _text(root, "RecipeName")
    return ProcessingRequest(
        path=path,
        project=_text(root, "ProposalCode"),
        mous=normalize_uid(entity),
        sous=sous,
        gous=gous,
        sessions={k: tuple(v) for k, v in sorted(sessions.items(), key=lambda kv: int(kv[0].split("_")[1] or 0))},
        asdms=asdms,
        recipe=recipe,
    )


def write_restore_ppr(path: Path, project: str, sous: str | None, gous: str | None, mous: str,
                      sessions: dict[str, tuple[str, ...]]) -> None:
    """Write a SciPipeRequest for a restore run (``hifa_restoredata``) naming every session and EB."""
    def archive(uid: str) -> str:
        return "uid://" + uid[len("uid___"):].replace("_", "/")

    root = ET.Element("SciPipeRequest")
    summary = ET.SubElement(root, "ProjectSummary")
    ET.SubElement(summary, "ProposalCode").text = project
    ET.SubElement(summary, "Observatory").text = "ALMA Joint Observatory"
    ET.SubElement(summary, "Telescope").text = "ALMA"
    structure = ET.SubElement(root, "ProjectStructure")
    ET.SubElement(structure, "OUSStatusRef", entityId=archive(mous), entityTypeName="OUSStatus")
    requests = ET.SubElement(root, "ProcessingRequests")
    request = ET.SubElement(requests, "ProcessingRequest")
    intents = ET.SubElement(request, "ProcessingIntents")
    for keyword, value in [("RESTORE", "true")] + [(s, ",".join(archive(e) for e in ebs)) for s, ebs in sessions.items()]:
        item = ET.SubElement(intents, "Intents")
        ET.SubElement(item, "Keyword").text = keyword
        ET.SubElement(item, "Value").text = value
    procedure = ET.SubElement(request, "ProcessingProcedure")
    ET.SubElement(procedure, "ProcedureTitle").text = "hifa_restoredata"
    command = ET.SubElement(procedure, "ProcessingCommand")
    ET.SubElement(command, "Command").text = "hifa_restoredata"
    ET.SubElement(command, "ParameterSet")
    dataset = ET.SubElement(request, "DataSet")
    block = ET.SubElement(ET.SubElement(dataset, "SchedBlockSet"), "SchedBlockIdentifier")
    ous_path = f"SOUS_{sous}/GOUS_{gous}/MOUS_{mous}" if sous and gous else f"MOUS_{mous}"
    ET.SubElement(block, "RelativePath").text = f"{project}/{ous_path}"
    for ebs in sessions.values():
        for eb in ebs:
            identifier = ET.SubElement(block, "AsdmIdentifier")
            ET.SubElement(ET.SubElement(identifier, "AsdmRef"), "ExecBlockId").text = archive(eb)
            ET.SubElement(identifier, "AsdmDiskName").text = eb
    ET.indent(root)
    write_atomic(path, ET.tostring(root, encoding="UTF-8", xml_declaration=True))
