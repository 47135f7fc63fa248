"""README text: the header template, the product summary and the ``tree``-style listing.

Pure string functions.  The tree is drawn like ``tree --charset=ascii`` and ends with the
``N directories, M files`` line, so the archive's ingest check (every name listed exists)
can be run on it, and :func:`parse_tree` reads it (and the Unicode form) back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

DEFAULT_HEADER = """\
Atacama Large Millimeter/submillimeter Array (ALMA)

#####

Cycle:
Project code:
SB name:
PI name:
Project title:
Configuration:
Proposed rms:
CASA version used for reduction:
Comments from Reducer:

#####

This file describes the content of the tar file you have received. The
full data structure is inserted below.

This directory contains this README file and the following directories:
raw, calibrated, calibration, script, qa, log, product (only those that
hold data are present).

- 'raw' contains the apriori calibrated ms for each execution block,
after being split into the science spectral windows.  This calibration
includes: WVR, Tsys and antenna position corrections and apriori
flagging.
- 'calibrated' contains the fully calibrated ms for each execution block.
- 'calibration' contains the files needed for calibration starting from
the initial ms to the fully calibrated data.   Plots are included.
- 'script' contains the reduction scripts used to process the initial ms
to calibrated data, but also to obtain concatenated data (if more than
one execution) and imaging products.  There are usually several scripts
dealing with different parts of the processing.
- 'product' contains the fits files of the selected image products.
These will not include all images of scientific value, but will indicate
the quality of the calibration and images.
- 'qa' contains the qa2 reports that show plots and text information
needed to assess the quality of the processing.  The resultant image
rms, compared with that proposed, is given.
- 'log' contains the casa log files.
"""

SUMMARY_TITLE = "##### Image products (measured by qa2pack from the FITS files)"
_COUNT_RE = re.compile(r"^(\d+) director(?:y|ies), (\d+) files?$")
_TREE_LINE_RE = re.compile(r"^((?:(?:\|   )|(?:│   )|(?:    )|(?:│\xa0\xa0 ))*)(\|-- |`-- |├── |└── )(.*)$")


@dataclass(frozen=True, slots=True)
class ImageSummary:
    """What the README says about one FITS product (seed 002: achieved beam and noise)."""

    name: str
    shape: tuple[int, ...]
    frequency_ghz: float | None
    beam_arcsec: tuple[float, float, float] | None  # BMAJ, BMIN (arcsec), BPA (deg)
    rms: float | None
    unit: str


def render_summary(images: Sequence[ImageSummary]) -> str:
    """Render the product table; empty string when there are no images."""
    if not images:
        return ""
    rows = [("image", "size (pixels)", "freq (GHz)", "beam (arcsec x arcsec, deg)", "rms")]
    for img in images:
        freq = f"{img.frequency_ghz:.4f}" if img.frequency_ghz is not None else "-"
        beam = "-"
        if img.beam_arcsec is not None:
            bmaj, bmin, bpa = img.beam_arcsec
            beam = f"{bmaj:.3f} x {bmin:.3f}, {bpa:.1f}"
        rms = f"{img.rms:.3g} {img.unit}".strip() if img.rms is not None else "-"
        rows.append((img.name, " x ".join(str(n) for n in img.shape), freq, beam, rms))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [SUMMARY_TITLE, ""]
    for n, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("The rms is a robust estimate (1.4826 x median absolute deviation) over the image.")
    return "\n".join(lines) + "\n"


def render_tree(root: str, entries: Iterable[tuple[str, bool]], notes: Mapping[str, str] | None = None,
                counts: bool = True) -> str:
    """Draw ``entries`` (POSIX paths below ``root``, is-directory flag) like ``tree``.

    Folders implied by a path are drawn too; siblings are ordered case-insensitively, ties by
    name.  ``notes`` adds text after a path's name (the ``inspect`` view); the count line
    excludes the root, as ``tree`` does.
    """
    is_dir: dict[str, bool] = {}
    for path, directory in entries:
        path = path.strip("/")
        if not path:
            continue
        is_dir[path] = directory or is_dir.get(path, False)
        parent = path.rpartition("/")[0]
        while parent and not is_dir.get(parent):
            is_dir[parent] = True
            parent = parent.rpartition("/")[0]
    children: dict[str, list[str]] = {}
    for path in is_dir:
        parent, _, name = path.rpartition("/")
        children.setdefault(parent, []).append(name)
    lines = [root]
    dirs = 0

    def draw(folder: str, prefix: str) -> None:  # depth first; folders are a few levels deep
        nonlocal dirs
        names = children.get(folder, [])
        names.sort()
        names.sort(key=str.casefold)  # stable: case-insensitive, ties by name
        end = len(names) - 1
        for n, name in enumerate(names):
            path = f"{folder}/{name}" if folder else name
            note = notes.get(path) if notes else None
            lines.append(f"{prefix}{'`-- ' if n == end else '|-- '}{name}{'  ' + note if note else ''}")
            if is_dir[path]:
                dirs += 1
                draw(path, prefix + ("    " if n == end else "|   "))

    draw("", "")
    if counts:
        files = len(is_dir) - dirs
        lines.append("")
        lines.append(f"{dirs} director{'y' if dirs == 1 else 'ies'}, {files} file{'' if files == 1 else 's'}")
    return "\n".join(lines) + "\n"


def render_readme(header: str, summary: str, tree: str) -> str:
    """Put a README together: header, product summary, then the package tree."""
    parts = [header.rstrip("\n") + "\n"]
    if summary:
        parts.append(summary)
    parts.append("#####\n")
    parts.append(tree)
    return "\n".join(parts)


def split_header(readme: str) -> str:
    """Return the header part of a README made by :func:`render_readme` (for regeneration)."""
    lines = readme.splitlines()
    cut = len(lines)
    if SUMMARY_TITLE in lines:
        cut = lines.index(SUMMARY_TITLE)
    else:
        block = find_tree(readme)
        if block is not None:
            cut = block[0]
    head = lines[:cut]
    while head and head[-1].strip() in ("", "#####"):
        head.pop()
    return "\n".join(head) + "\n"


def find_tree(readme: str) -> tuple[int, int] | None:
    """Return (first, last) line indexes of the tree block (root line .. count line)."""
    lines = readme.splitlines()
    for end in range(len(lines) - 1, -1, -1):
        if _COUNT_RE.match(lines[end].strip()):
            break
    else:
        return None
    first = end - 1
    while first >= 0 and lines[first].strip() == "":
        first -= 1
    while first >= 0 and _TREE_LINE_RE.match(lines[first]):
        first -= 1
    if first < 0:
        return None
    return first, end


def parse_tree(readme: str) -> tuple[str, list[str], tuple[int, int]] | None:
    """Read the tree block back: root name, every listed path below it, and the counts."""
    block = find_tree(readme)
    if block is None:
        return None
    lines = readme.splitlines()
    first, end = block
    root = lines[first].strip().rstrip("/")
    stack: list[str] = []
    paths = []
    for line in lines[first + 1 : end]:
        match = _TREE_LINE_RE.match(line)
        if not match:
            continue
        depth = len(match.group(1)) // 4
        name = match.group(3).rstrip()
        name = name[:-1] if name.endswith("/") else name
        del stack[depth:]
        stack.append(name)
        paths.append("/".join(stack))
    counts = _COUNT_RE.match(lines[end].strip())
    assert counts is not None
    return root, paths, (int(counts.group(1)), int(counts.group(2)))
