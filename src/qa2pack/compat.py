"""The legacy entry points with the signatures of ``QA2_Packaging_module.py``.

Analysts' ``run_packaging.py`` scripts call ``QA_Packager(origpath=..., readme=...,
packpath=..., mode=..., style=..., append=...)``; these wrappers map the old keyword names
and their empty-string defaults onto :class:`~qa2pack.core.options.PackageOptions`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .api import package
from .core.model import Append, Mode, Style
from .core.options import PackageOptions
from .run.report import RunReport


def _tell(report: RunReport) -> RunReport:
    """Print what the run did, as the old module printed its account (logging stays the caller's to set up)."""
    for finding in report.plan.findings:
        print(f"qa2pack: WARNING: [{finding.code}] {finding.message}", file=sys.stderr)
    for note in report.notes:
        print(f"qa2pack: WARNING: {note}", file=sys.stderr)
    print(f"qa2pack: INFO: {report.summary()}; the log is {report.outputs.get('log', '-')}", file=sys.stderr)
    return report


def QA_Packager(origpath: str, readme: str = "", packpath: str = "", mode: str = "fake", style: str = "",
                append: str = "", gzip_caltables: bool = False, PIscript: str = "",
                noms: bool = False) -> RunReport:
    """Package a QA2 reduction folder like the original ``QA_Packager``.

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
        from .core.errors import UsageError

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
    return _tell(package(origpath, packpath, options))


def QA_Pipeline_Stager(pipeline_root: str, staged_root: str, mode: str = "fake", PIscript: str = "",
                       PIPE_README: str = "") -> RunReport:
    """Stage pipeline output like the original ``QA_Pipeline_Stager``.

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

    return _tell(stage(pipeline_root, staged_root, Mode.parse(mode), PIscript or None, PIPE_README or None))
