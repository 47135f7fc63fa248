"""README text: the header template, the product summary and the package tree.

Pure string functions.  The tree is drawn in the layout of ALMA READMEs (every line begins
with ``|``, folders end in ``/``) and ends with the ``N directories, M files`` line, because
the archive's ingest reads the tree from exactly those lines.  :func:`parse_tree` reads it
back, and also the layout of ``tree`` itself (ASCII or Unicode) of READMEs the archive
regenerated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ..core.record import record
from ..delivery.layout import README_DEPTH, is_auxiliary

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
# A tree line in the archive's layout: one "|   " (or "|-- ") per level, folders ending in "/".
_ARCHIVE_LINE_RE = re.compile(r"^((?:\|   )*)\|-- (.*)$")
# Lines of ``tree`` itself (ASCII or Unicode), as in READMEs the archive regenerated.
_TREE_LINE_RE = re.compile(r"^((?:(?:\|   )|(?:│   )|(?:    )|(?:│\xa0\xa0 ))*)(\|-- |`-- |├── |└── )(.*)$")


@record
class ImageSummary:
    """What the README says about one FITS product (its achieved beam and noise)."""

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
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    lines.append("The rms is a robust estimate (1.4826 x median absolute deviation) over the image.")
    return "\n".join(lines) + "\n"


def render_tree(entries: Iterable[tuple[str, bool]], notes: Mapping[str, str] | None = None,
                counts: bool = True) -> str:
    """Draw ``entries`` (POSIX paths, is-directory flag) in the layout of ALMA READMEs.

    Every line begins with ``|``: ``|-- name`` for an entry, one ``|   `` per level above it,
    and a trailing ``/`` on folders (the archive's ingest reads exactly these lines).  Folders
    implied by a path are drawn too; siblings are ordered case-insensitively, ties by name.
    ``notes`` adds text after a path's name (the ``inspect`` view).  The count line counts
    the folders and files drawn.
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
    lines: list[str] = []
    dirs = 0
    stack = [("", "")]  # (folder, prefix), depth first; siblings pushed in reverse order
    while stack:
        folder, prefix = stack.pop()
        if folder:
            note = notes.get(folder) if notes else None
            lines.append(f"{prefix}|-- {folder.rpartition('/')[2]}{'/' if is_dir[folder] else ''}"
                         f"{'  ' + note if note else ''}")
            if not is_dir[folder]:
                continue
            dirs += 1
            prefix += "|   "
        names = children.get(folder, [])
        names.sort()
        names.sort(key=str.casefold)  # stable: case-insensitive, ties by name
        stack.extend((f"{folder}/{name}" if folder else name, prefix) for name in reversed(names))
    if counts:
        files = len(is_dir) - dirs
        lines.append("")
        lines.append(f"{dirs} director{'y' if dirs == 1 else 'ies'}, {files} file{'' if files == 1 else 's'}")
    return "\n".join(lines) + "\n"


def readme_tree(project: str, entries: Iterable[tuple[str, bool]]) -> str:
    """Draw a member README's tree: the project folder down to the entries of the member's folders.

    ``entries`` are package-relative (``sg/group/member/...``).  What lies deeper than the
    archive's own README depth is cut: a CASA table or plot folder at that depth is listed as
    ``name/`` without its content.  Auxiliary products are left out, because they travel in the
    auxiliary tar and the archive rejects a tar whose README lists what the tar lacks.
    """
    shown: dict[str, bool] = {project: True}
    for path, is_dir in entries:
        parts = path.split("/")
        if len(parts) > README_DEPTH:
            path, is_dir = "/".join(parts[:README_DEPTH]), True
        elif not is_dir and is_auxiliary(parts[-1]):
            continue
        key = f"{project}/{path}"
        shown[key] = shown.get(key, False) or is_dir
    return render_tree(shown.items())


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


def _tree_depth(line: str) -> tuple[int, str] | None:
    """Return (depth, name) of a tree line in the archive's layout or ``tree``'s (None otherwise)."""
    match = _ARCHIVE_LINE_RE.match(line)
    if match:
        return len(match.group(1)) // 4 + 1, match.group(2)
    match = _TREE_LINE_RE.match(line)
    if match:
        return len(match.group(1)) // 4 + 1, match.group(3)
    return None


def find_tree(readme: str) -> tuple[int, int] | None:
    """Return (first, last) line indexes of the tree block (its first line .. the count line).

    The block is the run of tree lines above the last ``N directories, M files`` line; in the
    layout of ``tree`` itself (READMEs the archive regenerated) its first line is the root.
    """
    lines = readme.splitlines()
    for end in range(len(lines) - 1, -1, -1):
        if _COUNT_RE.match(lines[end].strip()):
            break
    else:
        return None
    first = end - 1
    while first >= 0 and lines[first].strip() == "":
        first -= 1
    while first >= 0 and _tree_depth(lines[first]):
        first -= 1
    block = lines[first + 1:end]
    if block and all(_ARCHIVE_LINE_RE.match(line) for line in block if line.strip()):
        return first + 1, end  # the archive's layout: the project folder is the first tree line
    if first < 0:
        return None
    return first, end  # tree's layout: the root stands alone above the tree lines


def parse_tree(readme: str) -> tuple[str, list[str], tuple[int, int]] | None:
    """Read the tree block back: the project folder, every listed path below it, and the counts.

    Paths are relative to the project folder; folders lose their trailing ``/``.
    """
    block = find_tree(readme)
    if block is None:
        return None
    lines = readme.splitlines()
    first, end = block
    stack: list[str] = []
    paths = []
    root_depth = 0
    if not lines[first].startswith("|"):  # tree's layout: a bare root line
        stack.append(lines[first].strip().rstrip("/"))
        root_depth = 1
        first += 1
    for line in lines[first:end]:
        found = _tree_depth(line)
        if found is None:
            continue
        depth, name = found
        depth += root_depth
        name = name.rstrip()
        name = name[:-1] if name.endswith("/") else name
        del stack[depth - 1:]
        stack.append(name)
        paths.append("/".join(stack))
    if not paths and not stack:
        return None
    root = stack[0] if root_depth else paths[0].split("/")[0]
    below = [p.split("/", 1)[1] for p in paths if "/" in p]
    counts = _COUNT_RE.match(lines[end].strip())
    assert counts is not None
    return root, below, (int(counts.group(1)), int(counts.group(2)))
