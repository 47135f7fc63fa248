"""Read the pipeline's XML files (PPRs, manifests): one refusal wording for a file that cannot be read or parsed."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: N817 - the usual name
from pathlib import Path

from ..core.errors import PipelineRunError


def read_xml_bytes(path: Path, what: str) -> bytes:
    """Return a file's bytes, or refuse in one line naming ``what`` it is (``the PPR``)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise PipelineRunError(f"cannot read {what} {path}: {exc.strerror}") from None


def parse_xml(data: bytes, path: Path, what: str) -> ET.Element:
    """Parse a delivered or staged XML file the user points at, or refuse in one line."""
    try:
        return ET.fromstring(data)  # noqa: S314 - a local file the user points at
    except ET.ParseError as exc:
        raise PipelineRunError(f"{what} {path} is not valid XML ({exc})") from None
