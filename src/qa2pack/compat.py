"""The legacy entry points with the signatures of ``QA2_Packaging_module.py``.

Analysts' ``run_packaging.py`` scripts call ``QA_Packager(origpath=..., readme=...,
packpath=..., mode=..., style=..., append=...)``; these wrappers map the old keyword names
and their empty-string defaults onto :class:`~qa2pack.options.PackageOptions`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from .api import package
from .model import Append, Mode, Style
from .options import PackageOptions
from .report import RunReport

log = logging.getLogger("qa2pack")


def _with_console_log() -> logging.Handler:
    """Show the run's messages on stderr, as the old module printed as it went."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("QA_Packager: %(levelname)s: %(message)s"))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler


def QA_Packager(origpath: str, readme: str = "", packpath: str = "", mode: str = "fake", style: str = "",
                append: str = "", gzip_caltables: bool = False, PIscript: str = "",
                noms: bool = False) -> RunReport:
    """Package a QA2 reduction folder like the original ``QA_Packager`` (SPEC sections 5-7).

    Parameters
    ----------
    origpath : str
        The reduction folder (one SB, or a parent with several SBs / members).
    readme : str
        File with the README header; '' uses the default template (with a warning).
    packpath : str
        The destination folder, named by the project code.
    mode : str
        'fake' (default), 'copy', 'hard', 'move', 'ticket' or 'manimgonly'.
    style : str
        '' or a cycle style such as 'cycle2-nopipe' or 'cycle4-pipe'.
    append : str
        '' (replace), 'group', 'member' or 'product'.
    gzip_caltables : bool
        Deliver each ``<EB>.calibration`` folder as a ``.tgz``.
    PIscript : str
        Copied into ``script/`` as ``scriptForPI.py`` ('' for none).
    noms : bool
        Leave MSs out (when ``style`` is '').

    Returns
    -------
    RunReport
        What was packaged, the warnings and what was left out.
    """
    if not packpath:
        from .errors import UsageError

        raise UsageError("QA_Packager needs packpath (the destination folder, named by the project code)")
    options = PackageOptions(
        mode=Mode.parse(mode),
        style=Style.parse(style),
        append=Append.parse(append),
        readme=Path(readme) if readme else None,
        gzip_caltables=bool(gzip_caltables),
        pi_script=Path(PIscript) if PIscript else None,
        noms=bool(noms),
    )
    handler = _with_console_log()
    try:
        return package(origpath, packpath, options)
    finally:
        log.removeHandler(handler)
