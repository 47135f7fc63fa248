"""Read the pipeline manifest (``*pipeline_manifest.xml``) as the pipeline's restore reads it.

The manifest is ``<piperesults><ous name=MOUS>`` with one ``<session name=session_N>`` per
session, each holding its ``<caltables>`` and an ``<asdm name=EB>`` per EB with its
``<finalflags>`` and ``<applycmds>``; ``<aux_products_file>`` sits on the ``<ous>``.  A
restore copies every file it names from ``calibration/`` (scriptForPI.py links that folder
as the pipeline's ``products``), so a delivery must hold them all.
"""

from __future__ import annotations

from pathlib import Path

from ..core.naming import leading_uid
from ..core.record import field, record
from .xmlfiles import parse_xml, read_xml_bytes


@record
class PipelineManifest:
    """What a pipeline manifest names."""

    path: Path
    ous: str | None
    sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # session_1 -> EB uids
    caltables: dict[str, str] = field(default_factory=dict)  # session -> caltables tgz
    flagversions: dict[str, str] = field(default_factory=dict)  # EB -> flagversions tgz
    applycals: dict[str, str] = field(default_factory=dict)  # EB -> calapply txt
    aux_products: tuple[str, ...] = ()

    @property
    def asdms(self) -> tuple[str, ...]:
        """Every EB uid the manifest names, session by session."""
        return tuple(eb for ebs in self.sessions.values() for eb in ebs)

    def restore_files(self) -> list[str]:
        """Return the files a pipeline restore copies from ``products`` (``calibration/`` of a delivery)."""
        return [*self.flagversions.values(), *self.caltables.values(), *self.applycals.values()]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_pipeline_manifest(path: Path) -> PipelineManifest:
    """Parse a pipeline manifest file; one that is not XML is a :class:`PipelineRunError`."""
    return parse_pipeline_manifest(read_xml_bytes(path, "the pipeline manifest"), path)


def parse_pipeline_manifest(data: bytes, path: Path) -> PipelineManifest:
    """Parse the bytes of a pipeline manifest (``path`` names it in errors and in the result)."""
    root = parse_xml(data, path, "the pipeline manifest")
    ous_element = next((e for e in root.iter() if _local(e.tag) == "ous"), None)
    ous = leading_uid(ous_element.get("name", "")) if ous_element is not None else None
    sessions: dict[str, tuple[str, ...]] = {}
    caltables: dict[str, str] = {}
    flags: dict[str, str] = {}
    applycals: dict[str, str] = {}
    aux: list[str] = []
    for element in root.iter():
        tag = _local(element.tag)
        if tag == "aux_products_file" and element.get("name"):
            aux.append(element.get("name", ""))
        if tag != "session":
            continue
        name = element.get("name", f"session_{len(sessions) + 1}")
        ebs = []
        for child in element:
            child_tag = _local(child.tag)
            if child_tag == "caltables" and child.get("name"):
                caltables[name] = child.get("name", "")
            if child_tag != "asdm":
                continue
            eb = leading_uid(child.get("name", "")) or child.get("name", "") or ""
            ebs.append(eb)
            for item in child:
                if _local(item.tag) == "finalflags" and item.get("name"):
                    flags[eb] = item.get("name", "")
                if _local(item.tag) == "applycmds" and item.get("name"):
                    applycals[eb] = item.get("name", "")
        sessions[name] = tuple(ebs)
    return PipelineManifest(path, ous, sessions, caltables, flags, applycals, tuple(aux))
