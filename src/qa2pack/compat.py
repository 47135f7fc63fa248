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
    handler.setFormatter(logging.Formatter("qa2pack: %(levelname)s: %(message)s"))
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


def QA_Pipeline_Stager(pipeline_root: str, staged_root: str, mode: str = "fake", PIscript: str = "",
                       PIPE_README: str = "") -> RunReport:
    """Stage pipeline output like the original ``QA_Pipeline_Stager`` (SPEC section 8, case 1).

    Parameters
    ----------
    pipeline_root : str
        The top folder of the pipeline results (the run, its MOUS folder, or ``products/``).
    staged_root : str
        The staged package folder (the project code).
    mode : str
        'hard', 'copy' or 'fake'.
    PIscript : str
        Copied into ``script/`` as ``scriptForPI.py`` ('' for none).
    PIPE_README : str
        A pipeline README used as the header of the staged README ('' for the template).

    Returns
    -------
    RunReport
        What was staged and what was not.
    """
    from .api import stage

    handler = _with_console_log()
    try:
        return stage(pipeline_root, staged_root, Mode.parse(mode), PIscript or None, PIPE_README or None)
    finally:
        log.removeHandler(handler)
