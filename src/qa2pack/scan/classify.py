"""Decide what a folder is from its content, never from its name."""

from __future__ import annotations

from ..core.model import Kind
from ..core.record import record


@record
class DirFacts:
    """What the probe saw directly inside one folder."""

    subdirs: frozenset[str]
    files: frozenset[str]
    table_type: str | None  # the "Type = ..." line of table.info, if there is one


def classify_dir(facts: DirFacts) -> Kind | None:
    """Return the kind of a folder that is copied whole, or None for an ordinary folder."""
    if "ASDMBinary" in facts.subdirs or "ASDM.xml" in facts.files:
        return Kind.ASDM
    if "DATA_DESCRIPTION" in facts.subdirs or facts.table_type == "Measurement Set":
        return Kind.MS
    # Modern caltables (CASA >= 3.4) have no CAL_DESC: both signals are needed.
    if "CAL_DESC" in facts.subdirs or facts.table_type == "Calibration":
        return Kind.CALTABLE
    if "FLAG_VERSION_LIST" in facts.files:
        return Kind.FLAGVERSIONS
    if "table.dat" in facts.files:
        return Kind.IMAGE if facts.table_type == "Image" else Kind.TABLE
    # Only pngs and nothing below: an SB folder holding one png next to its EB folders is no plot folder.
    if facts.files and not facts.subdirs and all(name.endswith(".png") for name in facts.files):
        return Kind.PLOTS
    return None


def parse_table_type(info_text: str) -> str | None:
    """Return the value of the ``Type =`` line of a casacore ``table.info`` file."""
    for line in info_text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Type":
            return value.strip()
    return None
