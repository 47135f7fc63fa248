"""The calibrators' flux densities from each EB's ``*.fluxscale`` file, as the EB checklist asks for them.

CASA's ``fluxscale`` task writes its results to the list file (``<EB>.ms.split.fluxscale``) one
line per calibrator and spectral window, and a line per fitted spectrum::

    Flux density for J1751+0939 in SpW=0 (freq=2.16276e+11 Hz) is: 2.22776 +/- 0.00677892 (SNR = 328.631, N = 9)
    Fitted spectrum for J1751+0939 with fitorder=1: Flux density = 2.19474 +/- 0.00107564 (freq=223.031 GHz) ...

``workspace fluxscale`` prints those lines, file by file; anything else in the file (the logger's
time stamps, the other messages) is left out.  Symbolic links (the ones ``fluxequal-start`` makes
in ``calibrated/``) are not read twice.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.naming import natural_key
from ..core.record import field, record

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"
FLUX_RE = re.compile(rf"Flux density for (?P<field>\S+) in SpW=(?P<spw>\d+)(?: \(freq=(?P<freq>{_NUMBER}) Hz\))? "
                     rf"is: (?P<flux>{_NUMBER}) \+/- (?P<error>{_NUMBER})(?: \(SNR = (?P<snr>{_NUMBER}), "
                     rf"N = (?P<n>\d+)\))?")
FIT_RE = re.compile(rf"Fitted spectrum for (?P<field>\S+) with fitorder=(?P<order>\d+): Flux density = "
                    rf"(?P<flux>{_NUMBER}) \+/- (?P<error>{_NUMBER})(?: \(freq=(?P<freq>{_NUMBER}) GHz\))?"
                    rf"(?: spidx=(?P<spidx>{_NUMBER}) \+/- (?P<spidx_error>{_NUMBER}))?")
_START = re.compile(r"(Flux density for |Fitted spectrum for )")


@record(frozen=False)
class FluxFile:
    """The flux densities one ``*.fluxscale`` file reports."""

    path: Path
    lines: list[str] = field(default_factory=list)  # as CASA wrote them, from "Flux density for" on
    fluxes: list[dict[str, Any]] = field(default_factory=list)
    fits: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the file's results as plain JSON."""
        return {"file": str(self.path), "fluxes": self.fluxes, "fits": self.fits}


def _numbers(match: re.Match[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, text in match.groupdict().items():
        if text is None:
            continue
        values[key] = text if key == "field" else int(text) if key in ("spw", "n", "order") else float(text)
    return values


def read_fluxscale(path: Path) -> FluxFile:
    """Read the flux-density and fitted-spectrum lines of one fluxscale list file."""
    found = FluxFile(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    for line in text.splitlines():
        start = _START.search(line)
        if start is None:
            continue
        shown = line[start.start():].rstrip()
        found.lines.append(shown)
        flux, fit = FLUX_RE.match(shown), FIT_RE.match(shown)
        if flux is not None:
            found.fluxes.append(_numbers(flux))
        elif fit is not None:
            found.fits.append(_numbers(fit))
    return found


def fluxscale_files(folder: Path) -> list[Path]:
    """Return the ``*.fluxscale`` files in a folder and the EB folders below it (links not followed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder does not exist: {folder}" if not os.path.lexists(folder) else f"not a folder: {folder}")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.endswith((".ms", ".split", ".cal", ".plots")) and d != "calibrated"]
        found += [Path(root, name) for name in files if name.endswith(".fluxscale")
                  and not os.path.islink(os.path.join(root, name))]
    return sorted(found, key=lambda p: natural_key(str(p)))


def fluxscale(folder: Path) -> list[FluxFile]:
    """Read every fluxscale list file of an SB (or of one EB folder)."""
    files = fluxscale_files(folder)
    if not files:
        raise InputError(f"no *.fluxscale file in {folder} or its EB folders (CASA's fluxscale writes one with "
                         "listfile=...)")
    return [read_fluxscale(path) for path in files]
