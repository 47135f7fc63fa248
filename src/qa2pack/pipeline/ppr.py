"""Read and write ALMA pipeline processing requests (PPR, ``SciPipeRequest`` XML) as the pipeline does.

What packaging and restores need: the project code, the OUS uids (the MOUS is the
``OUSStatusRef entityId``; the SOUS and GOUS come from the run's ``RelativePath``), the
sessions with their EBs, and the ASDMs.  Elements are matched by local name, so the
namespaced documents of different pipeline versions read the same.

Sessions are ``SESSION_n`` intents whose value names one EB or several joined by ``" | "``
(the pipeline writes and splits them that way; a ``,`` is read too).  They may start at any
``n``: a restore script of the ALMA-IMF programme names ``session_2`` first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: N817 - the usual name
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core.errors import PipelineRunError, UsageError
from ..core.naming import archive_uid, normalize_uid
from ..core.record import field, record
from ..formats.atomic import write_atomic
from .xmlfiles import parse_xml, read_xml_bytes

_RUN_PATH_RE = re.compile(r"SOUS_(uid___\w+?)/GOUS_(uid___\w+?)/MOUS_(uid___\w+?)(?:/|$)")
_SESSION_RE = re.compile(r"^SESSION_(\d+)$")
_EB_SEPARATOR_RE = re.compile(r"\s*[|,]\s*")
SESSION_SEPARATOR = " | "  # how the pipeline joins the EBs of a session


@record
class ProcessingRequest:
    """The facts of one PPR, and the parsed document (for writing a restore PPR from it)."""

    path: Path
    project: str | None
    mous: str
    sous: str | None = None
    gous: str | None = None
    sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # SESSION_1 -> EB uids, in n order
    asdms: tuple[str, ...] = ()  # AsdmDiskName values
    recipe: str | None = None
    root: ET.Element | None = field(default=None, compare=False, repr=False)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find_all(root: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in root.iter() if _local(e.tag) == name]


def _text(root: ET.Element, name: str) -> str | None:
    found = _find_all(root, name)
    return (found[0].text or "").strip() or None if found else None


def split_session(value: str) -> tuple[str, ...]:
    """Return the EB uids of a ``SESSION_n`` value (``" | "``-joined, or ``,`` in old files)."""
    return tuple(normalize_uid(part) for part in _EB_SEPARATOR_RE.split(value.strip()) if part)


def session_value(ebs: Sequence[str]) -> str:
    """Return a ``SESSION_n`` value as the pipeline writes it (``uid://...`` joined by ``" | "``)."""
    return SESSION_SEPARATOR.join(archive_uid(eb) for eb in ebs)


def unread_sessions(sessions: Mapping[str, Sequence[str]]) -> list[str]:
    """Return the sessions the pipeline's own PPR reader skips: it reads SESSION_1, 2 ... up to the first gap.

    Its ``executeppr`` then files those sessions' EBs under ``session_1``; a restore started from
    the PPR (not from the delivered restore script, which names the sessions) misses their caltables.
    """
    numbers = sorted(int(match.group(1)) for key in sessions if (match := _SESSION_RE.match(key)))
    expected = 1
    for number in numbers:
        if number != expected:
            break
        expected += 1
    return [f"SESSION_{n}" for n in numbers if n >= expected]


def read_ppr(path: Path) -> ProcessingRequest:
    """Parse a PPR file; one that is not a PPR, or names no OUS, is a :class:`PipelineRunError`."""
    return parse_ppr(read_xml_bytes(path, "the PPR"), path)


def parse_ppr(data: bytes, path: Path) -> ProcessingRequest:
    """Parse the bytes of a PPR (``path`` names it in errors and in the result)."""
    root = parse_xml(data, path, "the PPR")
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
    sessions: dict[int, list[str]] = {}
    try:
        for intent in _find_all(root, "Intents"):
            number = _SESSION_RE.match(_text(intent, "Keyword") or "")
            if number:
                sessions.setdefault(int(number.group(1)), []).extend(split_session(_text(intent, "Value") or ""))
        mous = normalize_uid(entity)
    except UsageError as exc:
        raise PipelineRunError(f"the PPR {path}: {exc}") from None
    asdms = tuple(e.text.strip() for e in _find_all(root, "AsdmDiskName") if e.text and e.text.strip())
    recipe = _text(root, "ProcedureTitle") or _text(root, "RecipeName")
    return ProcessingRequest(
        path=path,
        project=_text(root, "ProposalCode"),
        mous=mous,
        sous=sous,
        gous=gous,
        sessions={f"SESSION_{n}": tuple(ebs) for n, ebs in sorted(sessions.items())},
        asdms=asdms,
        recipe=recipe,
        root=root,
    )


# -- writing a restore PPR -------------------------------------------------------------------------


def _plain_copy(element: ET.Element) -> ET.Element:
    """Copy an element tree without namespaces (the pipeline's reader matches local names)."""
    copy = ET.Element(_local(element.tag), {k: v for k, v in element.attrib.items() if "}" not in k})
    copy.text = element.text.strip() if element.text and element.text.strip() else None
    for child in element:
        copy.append(_plain_copy(child))
    return copy


def _indent(element: ET.Element, level: int = 0) -> None:
    """Indent an element tree in place, one element per line (readable, and one line per value)."""
    pad = "\n" + "    " * level
    children = list(element)
    if children:
        element.text = pad + "    "
        for child in children:
            _indent(child, level + 1)
            child.tail = pad + "    "
        children[-1].tail = pad


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = text
    return element


@record
class RestoreRequest:
    """What a restore PPR says: the delivered PPR's structure (when there is one), sessions and EBs."""

    project: str
    mous: str
    sessions: Mapping[str, Sequence[str]]  # SESSION_n -> EB uids (file-name form)
    sous: str | None = None
    gous: str | None = None
    delivered: ProcessingRequest | None = None  # copied: summary, structure, intents, data set


def _structure(request: RestoreRequest) -> ET.Element:
    delivered = request.delivered.root if request.delivered is not None else None
    found = _find_all(delivered, "ProjectStructure") if delivered is not None else []
    if found:
        return _plain_copy(found[0])
    # No delivered PPR (a manifest only): what the pipeline's reader needs, with the unknown parts
    # marked as the pipeline marks them.
    structure = ET.Element("ProjectStructure")
    _sub(structure, "ObsUnitSetRef", entityId="unknown", partId="unknown", entityTypeName="ObsProject")
    _sub(structure, "ObsUnitSetTitle", "Undefined")
    _sub(structure, "ObsUnitSetType", "Member")
    _sub(structure, "ProjectStatusRef", entityId="unknown", entityTypeName="ProjectStatus")
    _sub(structure, "OUSStatusRef", entityId=archive_uid(request.mous), entityTypeName="OUSStatus")
    return structure


def _summary(request: RestoreRequest) -> ET.Element:
    delivered = request.delivered.root if request.delivered is not None else None
    found = _find_all(delivered, "ProjectSummary") if delivered is not None else []
    summary = _plain_copy(found[0]) if found else ET.Element("ProjectSummary")
    for tag, value in (("ProposalCode", request.project), ("Observatory", "ALMA Joint Observatory"),
                       ("Telescope", "ALMA")):
        if summary.find(tag) is None:
            _sub(summary, tag, value)
    return summary


def _intents(request: RestoreRequest) -> ET.Element:
    intents = ET.Element("ProcessingIntents")
    delivered = request.delivered.root if request.delivered is not None else None
    for intent in _find_all(delivered, "Intents") if delivered is not None else []:
        keyword = _text(intent, "Keyword") or ""
        if not _SESSION_RE.match(keyword):
            intents.append(_plain_copy(intent))
    for keyword, ebs in request.sessions.items():
        item = _sub(intents, "Intents")
        _sub(item, "Keyword", keyword)
        _sub(item, "Value", session_value(ebs))
    return intents


def _data_set(request: RestoreRequest) -> ET.Element:
    data_set = ET.Element("DataSet")
    block = _sub(_sub(data_set, "SchedBlockSet"), "SchedBlockIdentifier")
    delivered = request.delivered.root if request.delivered is not None else None
    relative = _text(delivered, "RelativePath") if delivered is not None else None
    if relative is None:
        ous_path = (f"SOUS_{request.sous}/GOUS_{request.gous}/MOUS_{request.mous}" if request.sous and request.gous
                    else f"MOUS_{request.mous}")
        relative = f"{request.project}/{ous_path}"
    _sub(block, "RelativePath", relative)
    for tag in ("SchedBlockRef", "SBStatusRef", "SBTitle"):
        found = _find_all(delivered, tag) if delivered is not None else []
        if found:
            block.append(_plain_copy(found[0]))
    for ebs in request.sessions.values():
        for eb in ebs:
            identifier = _sub(block, "AsdmIdentifier")
            _sub(_sub(identifier, "AsdmRef"), "ExecBlockId", archive_uid(eb))
            _sub(identifier, "AsdmDiskName", eb)
    return data_set


def write_restore_ppr(path: Path, request: RestoreRequest) -> None:
    """Write a ``SciPipeRequest`` for a ``hifa_restoredata`` run of every session and EB.

    Project summary and structure are the delivered PPR's (so the pipeline derives the same
    project structure from both); sessions and ASDMs are the delivery's.
    """
    root = ET.Element("SciPipeRequest")
    _sub(root, "SciPipeRequestEntity", entityId="UID_UNASSIGNED", entityTypeName="SciPipeRequest",
         datamodelVersion="0.1")
    root.append(_summary(request))
    root.append(_structure(request))
    processing = _sub(_sub(root, "ProcessingRequests"), "ProcessingRequest")
    processing.append(_intents(request))
    procedure = _sub(processing, "ProcessingProcedure")
    _sub(procedure, "ProcedureTitle", "hifa_restoredata")
    command = _sub(procedure, "ProcessingCommand")
    _sub(command, "Command", "hifa_restoredata")
    _sub(command, "ParameterSet")
    processing.append(_data_set(request))
    results = _sub(root, "ResultsProcessing")
    for tag in ("ArchiveResults", "CleanUpDisk", "UpdateProjectLifeCycle", "NotifyOperatorWhenDone"):
        _sub(results, tag, "false")
    _indent(root)
    write_atomic(path, ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n")
