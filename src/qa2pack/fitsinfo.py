"""Read what the README summary needs from a FITS image: size, frequency, beam and noise.

Only the header and a bounded, evenly strided sample of pixels are read (memory-mapped), so
a large cube costs about as much as a small image.  astropy is imported on first use only.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .readme import ImageSummary

log = logging.getLogger(__name__)

_MAX_SAMPLES = 2_000_000


def preload() -> None:
    """Start importing astropy on a thread: the walk of the tree (system calls) overlaps it."""
    def load() -> None:
        with contextlib.suppress(ImportError):
            import astropy.io.fits  # noqa: F401

    threading.Thread(target=load, name="qa2pack-astropy", daemon=True).start()


def summarize_fits(path: Path) -> ImageSummary | None:
    """Return the summary of one FITS image, or None (with a log line) if it cannot be read."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=True) as hdus:
            hdu = next((h for h in hdus if h.is_image and h.header.get("NAXIS", 0) > 0), None)
            if hdu is None:
                return None
            header = dict(hdu.header)
            naxis = int(header["NAXIS"])
            shape = tuple(int(header.get(f"NAXIS{n}", 0)) for n in range(1, naxis + 1))
            rms = _robust_rms(hdu.data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("cannot read FITS image %s: %s", path, exc)
        return None
    return ImageSummary(path.name, shape, _frequency_ghz(header), _beam(header), rms,
                        str(header.get("BUNIT", "")).strip())


def _robust_rms(data: Any) -> float | None:
    """1.4826 x the median absolute deviation: the noise, barely moved by the source."""
    import numpy

    if data is None:
        return None
    flat = numpy.asarray(data).reshape(-1)
    step = max(1, flat.size // _MAX_SAMPLES)
    sample = numpy.asarray(flat[::step], dtype="f8")
    sample = sample[numpy.isfinite(sample)]
    if sample.size == 0:
        return None
    return 1.4826 * float(numpy.median(numpy.abs(sample - numpy.median(sample))))


def _frequency_ghz(header: Mapping[str, Any]) -> float | None:
    for axis in range(1, int(header.get("NAXIS", 0)) + 1):
        if str(header.get(f"CTYPE{axis}", "")).upper().startswith("FREQ"):
            value = header.get(f"CRVAL{axis}")
            return float(value) / 1e9 if value is not None else None
    for key in ("RESTFRQ", "RESTFREQ"):
        if header.get(key) is not None:
            return float(header[key]) / 1e9
    return None


def _beam(header: Mapping[str, Any]) -> tuple[float, float, float] | None:
    bmaj, bmin, bpa = header.get("BMAJ"), header.get("BMIN"), header.get("BPA", 0.0)
    if bmaj is None or bmin is None:
        return None
    values = (float(bmaj) * 3600.0, float(bmin) * 3600.0, float(bpa))
    return values if all(math.isfinite(v) for v in values) else None
