"""Read what the README summary needs from a FITS image: size, frequency, beam and noise.

The header cards are read here and the noise comes from a bounded sample of pixels (64
evenly spaced runs read with ``pread``), so a large cube costs about as much as a small
image and a run imports neither astropy nor numpy: importing them costs 0.4 s, which made a
20,000-file hard-link package 63 % slower (``benchmarks/fits_reader.py``).  What this reader
does not handle (compressed images, a damaged header) goes to astropy, which reads the same
pixel sample, so the README says the same whichever reader ran.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import warnings
from array import array
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..planning.readme import ImageSummary

log = logging.getLogger(__name__)

BLOCK = 2880  # FITS headers and data come in blocks of this many bytes
CARD = 80
_MAX_HEADER_BLOCKS = 10_000  # a header longer than this (28 MB) is not an image product's
SAMPLE_VALUES = 1 << 15  # pixels read for the noise (about 1% precision); smaller images are read whole
_SAMPLE_RUNS = 64
_TYPECODES = {8: "B", 16: "h", 32: "i", 64: "q", -32: "f", -64: "d"}
READERS = 4  # files read at once by read_summaries
_ASTROPY = threading.Lock()  # one astropy read at a time: it records warnings, which are the process's


class _NotHandled(Exception):
    """Raised for what needs astropy: a compressed image, or a header this reader cannot follow."""


class FitsProblem(Exception):
    """A FITS product that gives no summary; the message says why, in words for the analyst."""


def summarize_fits(path: Path) -> ImageSummary | None:
    """Return the summary of one FITS image, or None (with a log line) if it has none."""
    try:
        return read_summary(path)
    except FitsProblem as exc:
        log.warning("FITS image %s: %s", path, exc)
        return None


def read_summaries(paths: Sequence[Path], readers: int = READERS) -> list[ImageSummary | FitsProblem | None]:
    """Return what :func:`read_summary` returns (or raises) for each file, reading a few files at once.

    A cube's sample is 64 reads spread over the file: on cold storage each waits for the disk,
    and reads let other threads run, so several files at once overlap those waits (eight cold
    100 MB cubes: 72 -> 48 ms on a local disk; a network disk waits longer for each).
    """
    def one(path: Path) -> ImageSummary | FitsProblem | None:
        try:
            return read_summary(path)
        except FitsProblem as exc:
            return exc

    if readers < 2 or len(paths) < 2:
        return [one(path) for path in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(readers, len(paths)), thread_name_prefix="qa2pack-fits") as pool:
        return list(pool.map(one, paths))


def read_summary(path: Path) -> ImageSummary | None:
    """Return the summary of the first image in a FITS file (None: the file holds no image).

    Raises :class:`FitsProblem` for a file that is empty, not FITS, truncated or unreadable.
    """
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size == 0:
                raise FitsProblem("an empty file (0 bytes), not an image")
            if os.pread(handle.fileno(), 9, 0) != b"SIMPLE  =":
                raise FitsProblem("not a FITS file (it does not begin with the SIMPLE card)")
            found = _first_image(handle.fileno())
            if found is None:
                return None
            header, offset = found
            shape = _shape(header)
            if offset + _data_bytes(header) > size:
                raise FitsProblem(f"truncated: its header announces {_data_bytes(header)} bytes of data, the file "
                                  f"holds {max(0, size - offset)}")
            rms = _robust_rms(_sample(handle.fileno(), header, offset, math.prod(shape)))
        return _summary(path.name, header, shape, rms)
    except (_NotHandled, ValueError, TypeError) as exc:  # compressed images, odd values in the cards: astropy decides
        try:
            return _summarize_with_astropy(path)
        except FitsProblem:
            if isinstance(exc, _NotHandled) and str(exc) != "compressed image":
                raise FitsProblem(f"a damaged FITS file: {exc}") from None  # what our reader found, in our words
            raise
    except OSError as exc:
        raise FitsProblem(f"cannot be read ({exc.strerror})") from None


# -- header -------------------------------------------------------------------------------------


def _first_image(fd: int) -> tuple[dict[str, Any], int] | None:
    """Return the header of the first HDU holding an image, and where its data start."""
    offset = 0
    size = os.fstat(fd).st_size
    while offset < size:
        header, data_start = _read_header(fd, offset)
        first = offset == 0
        if first and header.get("SIMPLE") is not True:
            raise _NotHandled("not a FITS file (no SIMPLE = T)")
        if header.get("ZIMAGE") is True:
            raise _NotHandled("compressed image")
        is_image = (first and not header.get("GROUPS")) or str(header.get("XTENSION", "")).strip() == "IMAGE"
        if is_image and int(header.get("NAXIS", 0)) > 0:
            return header, data_start
        offset = data_start + _padded(_data_bytes(header))
    return None


def _read_header(fd: int, offset: int) -> tuple[dict[str, Any], int]:
    header: dict[str, Any] = {}
    for block in range(_MAX_HEADER_BLOCKS):
        raw = os.pread(fd, BLOCK, offset + block * BLOCK)
        if len(raw) < BLOCK:
            raise _NotHandled("header ends before its END card")
        for start in range(0, BLOCK, CARD):
            card = raw[start:start + CARD].decode("ascii", "replace")
            keyword = card[:8].rstrip()
            if keyword == "END":
                return header, offset + (block + 1) * BLOCK
            if card[8:10] == "= " and keyword not in header:
                value = _parse_value(card[10:])
                if value is not None:
                    header[keyword] = value
    raise _NotHandled("header without an END card")


def _parse_value(text: str) -> Any:
    """Return a card's value (string, logical, integer or real); None where it is none of those."""
    text = text.strip()
    if text.startswith("'"):
        chars: list[str] = []
        i = 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1:i + 2] != "'":
                    return "".join(chars).rstrip()
                i += 1
            chars.append(text[i])
            i += 1
        return None  # no closing quote
    word = text.split("/", 1)[0].strip()
    if word in ("T", "F"):
        return word == "T"
    try:
        return int(word)
    except ValueError:
        pass
    try:
        return float(word.replace("D", "E").replace("d", "e"))
    except ValueError:
        return None


def _shape(header: Mapping[str, Any]) -> tuple[int, ...]:
    try:
        return tuple(int(header[f"NAXIS{n}"]) for n in range(1, int(header["NAXIS"]) + 1))
    except (KeyError, TypeError, ValueError):
        raise _NotHandled("image without its NAXISn cards") from None


def _data_bytes(header: Mapping[str, Any]) -> int:
    naxis = int(header.get("NAXIS", 0))
    if naxis == 0:
        return 0
    count = math.prod(int(header.get(f"NAXIS{n}", 0)) for n in range(1, naxis + 1))
    if header.get("GROUPS") is True:  # random groups: NAXIS1 is 0 and does not count
        count = math.prod(int(header.get(f"NAXIS{n}", 0)) for n in range(2, naxis + 1))
    bits = abs(int(header.get("BITPIX", 8)))
    return bits // 8 * int(header.get("GCOUNT", 1)) * (int(header.get("PCOUNT", 0)) + count)


def _padded(nbytes: int) -> int:
    return -(-nbytes // BLOCK) * BLOCK


# -- pixels -------------------------------------------------------------------------------------


def _runs(npix: int) -> list[tuple[int, int]]:
    """Return the (first pixel, count) runs of the noise sample: all pixels, or 64 evenly spaced runs."""
    if npix <= SAMPLE_VALUES:
        return [(0, npix)]
    length = SAMPLE_VALUES // _SAMPLE_RUNS
    return [(k * (npix - length) // (_SAMPLE_RUNS - 1), length) for k in range(_SAMPLE_RUNS)]


def _pixel_values(raw: Sequence[float], header: Mapping[str, Any], floating: bool) -> list[float]:
    """Return the values of raw pixels: finite ones for real data; for integers, scaled and without BLANK."""
    if floating:
        return list(filter(math.isfinite, map(float, raw)))
    blank = header.get("BLANK")
    scale, zero = float(header.get("BSCALE", 1.0)), float(header.get("BZERO", 0.0))
    return [zero + scale * v for v in raw if v != blank]


def _sample(fd: int, header: Mapping[str, Any], offset: int, npix: int) -> list[float]:
    """Return the pixel values of the noise sample, read with ``pread``."""
    bitpix = int(header.get("BITPIX", 0))
    typecode = _TYPECODES.get(bitpix, "")
    width = array(typecode).itemsize if typecode else 0
    if width * 8 != abs(bitpix):
        raise _NotHandled(f"BITPIX {bitpix}")
    values = array(typecode)
    for first, count in _runs(npix):
        raw = os.pread(fd, count * width, offset + first * width)
        if len(raw) < count * width:
            raise _NotHandled("data shorter than the header says")
        values.frombytes(raw)
    if sys.byteorder == "little":  # FITS data are big-endian
        values.byteswap()
    return _pixel_values(values, header, floating=bitpix < 0)


def _robust_rms(values: Sequence[float]) -> float | None:
    """1.4826 x the median absolute deviation: the noise, barely moved by the source.

    One sort: the deviations below and above the median are each in order already, so their
    median is found by halving rather than by sorting them again (the same numbers, exactly).
    """
    if not values:
        return None
    ordered = sorted(values)
    centre = _median(ordered)
    split = bisect_left(ordered, centre)
    below = _Deviations(ordered, centre, split, below=True)
    above = _Deviations(ordered, centre, split, below=False)
    middle = len(ordered) // 2
    mad = _kth_of_two(below, above, middle)
    if not len(ordered) % 2:
        mad = (_kth_of_two(below, above, middle - 1) + mad) / 2
    return 1.4826 * mad


class _Deviations:
    """|v - centre| of the values on one side of ``split`` in a sorted list, in increasing order."""

    def __init__(self, ordered: Sequence[float], centre: float, split: int, below: bool) -> None:
        self.ordered, self.centre, self.split, self.below = ordered, centre, split, below

    def __len__(self) -> int:
        return self.split if self.below else len(self.ordered) - self.split

    def __getitem__(self, index: int) -> float:
        if self.below:
            return abs(self.ordered[self.split - 1 - index] - self.centre)
        return abs(self.ordered[self.split + index] - self.centre)


def _kth_of_two(first: _Deviations, second: _Deviations, k: int) -> float:
    """Return the k-th smallest (from 0) of two increasing sequences taken together."""
    low, high = max(0, k + 1 - len(second)), min(k + 1, len(first))
    while True:  # take ``taken`` from first and the rest of the k + 1 smallest from second
        taken = (low + high) // 2
        rest = k + 1 - taken
        if taken < len(first) and rest > 0 and second[rest - 1] > first[taken]:
            low = taken + 1  # the first sequence gives more of them
        elif taken > 0 and rest < len(second) and first[taken - 1] > second[rest]:
            high = taken - 1  # it gives fewer
        else:
            return max(first[taken - 1] if taken > 0 else -math.inf, second[rest - 1] if rest > 0 else -math.inf)


def _median(ordered: Sequence[float]) -> float:
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# -- summary ------------------------------------------------------------------------------------


def _summary(name: str, header: Mapping[str, Any], shape: tuple[int, ...], rms: float | None) -> ImageSummary:
    return ImageSummary(name, shape, _frequency_ghz(header), _beam(header), rms, str(header.get("BUNIT", "")).strip())


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
    try:
        values = (float(bmaj) * 3600.0, float(bmin) * 3600.0, float(bpa))
    except (TypeError, ValueError):
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _summarize_with_astropy(path: Path) -> ImageSummary | None:
    """Summarise with astropy what :func:`read_summary` does not read itself (compressed images, odd headers).

    The sample is the same pixels, scaled the same way, so a README says the same whichever reader ran.
    """
    from astropy.io import fits

    try:
        with _ASTROPY, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with open(path, "rb") as handle, fits.open(handle, memmap=True, do_not_scale_image_data=True) as hdus:
                hdu = next((h for h in hdus if h.is_image and h.header.get("NAXIS", 0) > 0), None)
                if hdu is None:
                    return None
                header = dict(hdu.header)
                shape = _shape(header)
                pixels = hdu.data.reshape(-1)
                raw = [v for first, count in _runs(pixels.size) for v in pixels[first:first + count].tolist()]
                rms = _robust_rms(_pixel_values(raw, header, floating=int(header.get("BITPIX", 0)) < 0))
    except (_NotHandled, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FitsProblem(f"astropy cannot read it either ({str(exc).split('. ')[0].rstrip('.')})") from None
    if caught:  # e.g. a truncated file: said in our words, once, not as a Python warning
        raise FitsProblem(f"astropy reads it with a warning ({str(caught[0].message).split('. ')[0].rstrip('.')})")
    return _summary(path.name, header, shape, rms)
