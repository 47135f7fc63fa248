"""The legacy entry points with the signatures of ``QA2_Packaging_module.py``.

Analysts' ``run_packaging.py`` scripts call ``QA_Packager(origpath=..., readme=...,
packpath=..., mode=..., style=..., append=...)``; these wrappers map the old keyword names
and their empty-string defaults onto :class:`~qa2pack.core.options.PackageOptions`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .api import package
from .core.config import Config, load_config
from .core.errors import UsageError
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


# The original module's keywords, and the configuration key each one sets.
LEGACY_FOLDERS = {"tablefolder": "calibration", "rawdatafolder": "raw", "caldatafolder": "calibrated",
                  "qafolder": "qa"}
LEGACY_LISTS = {"rawdatacopy": "rawdatacopy", "caldatacopy": "caldatacopy", "QA2_others": "qa2_others",
                "required_folders_CAL": "required_caltables", "required_files_QA2": "required_qa2"}


def legacy_config(legacy: dict[str, Any], config: Config) -> Config:
    """Map the original module's folder and list keywords onto the configuration (unknown ones are refused)."""
    unknown = sorted(set(legacy) - set(LEGACY_FOLDERS) - set(LEGACY_LISTS) - {"tableplotsfolder"})
    if unknown:
        raise UsageError(f"QA_Packager got unknown keyword(s) {', '.join(unknown)}; known: origpath, readme, packpath, "
                         f"mode, style, append, gzip_caltables, PIscript, noms, tableplotsfolder, "
                         f"{', '.join(list(LEGACY_FOLDERS) + list(LEGACY_LISTS))}")
    folders = {LEGACY_FOLDERS[k]: str(v) for k, v in legacy.items() if k in LEGACY_FOLDERS}
    plots = legacy.get("tableplotsfolder")
    if plots is not None and str(plots) != folders.get("calibration", config.calibration):
        raise UsageError(f"tableplotsfolder={plots!r}: the plots of each EB go into <EB>.calibration.plots beside "
                         "its tables, so it must name the same folder as tablefolder")
    lists: dict[str, Any] = {}
    for key, name in LEGACY_LISTS.items():
        if key in legacy:
            value = legacy[key]
            lists[name] = [value] if isinstance(value, str) else [str(v) for v in value]
    if not folders and not lists:
        return config
    data = config.to_json()  # the TOML form of the configuration in force, changed by the keywords
    data.update(lists)
    data["folders"] = {**data["folders"], **folders}
    return Config.from_mapping(data, source="QA_Packager keywords")


def QA_Packager(origpath: str, readme: str = "", packpath: str = "", mode: str = "fake", style: str = "",
                append: str = "", gzip_caltables: bool = False, PIscript: str = "",
                noms: bool = False, **legacy: Any) -> RunReport:
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
    **legacy
        The original module's folder and list settings, mapped onto the placement configuration:
        ``tablefolder`` (and ``tableplotsfolder``, which must name the same folder), ``rawdatafolder``,
        ``caldatafolder``, ``qafolder``, ``rawdatacopy``, ``caldatacopy``, ``QA2_others``,
        ``required_folders_CAL`` and ``required_files_QA2``.

    Returns
    -------
    RunReport
        What was packaged, the warnings and what was left out.
    """
    if not packpath:
        raise UsageError("QA_Packager needs packpath (the destination folder, named by the project code)")
    options = PackageOptions(
        config=legacy_config(legacy, load_config(None)),
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
