"""What a run reads besides the scan: its two paths, the README header and PI script, and the contents a plan needs."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import InputError, PackpathError
from ..core.options import PackageOptions
from ..formats.atomic import read_user_text
from ..formats.fitsinfo import FitsProblem, read_summaries
from ..formats.manifest import md5_file
from ..planning.draft import (
    ContentFacts,
    Draft,
    ExternalFiles,
)
from ..planning.readme import ImageSummary
from .probe import check_origpath, files_containing


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def check_paths(origpath: Path, packpath: Path) -> tuple[Path, Path]:
    """Return (real origpath, absolute packpath) or refuse overlapping or unusable paths."""
    orig_real = Path(check_origpath(origpath))
    pack_real = Path(os.path.realpath(packpath))
    if not pack_real.name:
        raise PackpathError(f"packpath {packpath} has no name; it should be the project code, e.g. 2011.0.00229.S")
    if _inside(pack_real, orig_real):
        raise PackpathError(f"packpath {packpath} is inside origpath {origpath} (or equal to it); "
                            "choose a packpath outside the reduction folder")
    if _inside(orig_real, pack_real):
        raise PackpathError(f"origpath {origpath} is inside packpath {packpath}")
    return orig_real, pack_real


def read_externals(options: PackageOptions) -> ExternalFiles:
    """Read the README header and check the PI script (both live outside origpath)."""
    text = None
    if options.readme is not None:
        text = read_user_text(options.readme, "readme file")
    script, size = None, 0
    if options.pi_script is not None:
        script = Path(options.pi_script).absolute()
        if not script.is_file():
            raise InputError(f"PI script does not exist or is not a file: {options.pi_script}")
        size = script.stat().st_size
    return ExternalFiles(text, script, size)


def gather_facts(draft: Draft) -> ContentFacts:
    """Read the few contents the plan depends on: ephemerides, calibration scripts, FITS headers."""
    root = draft.origpath
    eph = {src: md5_file(root / src) for _, sources in draft.ephemerides for src in sources}
    scripts = {root / src: src for src in draft.calibration_scripts()}
    fixplanets = frozenset(scripts[p] for p in files_containing(scripts, b"fixplanets"))
    images: dict[str, ImageSummary] = {}
    problems: dict[str, str] = {}
    sources = draft.fits_sources()
    for source, summary in zip(sources, read_summaries([root / source for source in sources])):
        if isinstance(summary, FitsProblem):
            problems[source] = str(summary)
        elif summary is None:
            problems[source] = "holds no image (no HDU with image data)"
        else:
            images[source] = summary
    return ContentFacts(eph, fixplanets, images, problems)
