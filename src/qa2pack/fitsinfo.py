"""Read what the README summary needs from a FITS image: size, frequency, beam and noise.

Only the header and a bounded, evenly strided sample of pixels are read (memory-mapped), so
a large cube costs about as much as a small image.  astropy is imported on first use only.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .readme import ImageSummary

log = logging.getLogger(__name__)

_MAX_SAMPLES = 2_000_000


def _warm_up() -> None:
    """Import astropy in the reader process as soon as it starts."""
    import astropy.io.fits  # noqa: F401


def summarize_many(paths: Sequence[str]) -> dict[str, ImageSummary | None]:
    """Summarise several images (run in the reader process)."""
    return {path: summarize_fits(Path(path)) for path in paths}


class ImageReader:
    """Summarise FITS images in a process of its own, which imports astropy while we work.

    Importing astropy takes a third of a second of CPU; in this process it would hold the GIL
    that the walk and the transfers need.  A separate (spawned, so thread-safe) process does
    it on another core instead; it is started first and asked for the images later.
    """

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_warm_up)
        self._pool.submit(int)  # start the process (and its astropy import) now

    def summarize(self, paths: Sequence[str]) -> Future[dict[str, ImageSummary | None]]:
        """Ask for the summaries of these images; the result arrives while the caller works on."""
        return self._pool.submit(summarize_many, list(paths))

    def close(self) -> None:
        """Let the process go (it ends once idle)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


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
