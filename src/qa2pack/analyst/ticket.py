"""The QA2 ticket step of the workspace: package in ticket mode, then gather in ``JIRA/`` what to attach.

``JIRA/`` (beside the ticket package, in ``packaging/ticket/``) holds ``<project>.<SB>.ticket.zip``
and the SB's checklists (``Checklist_SB_<SB>.txt``, ``Checklist_SB_<SB>_<uid>.txt``): everything
the QA2 ticket needs, in one place.  Each file is written whole (a temporary name, then renamed);
other files in ``JIRA/`` are left alone.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from ..core.errors import InputError, note_writing
from ..core.model import Mode
from ..core.naming import named_folder
from ..core.options import PackageOptions
from ..core.record import field, record
from ..delivery.layout import is_project_code
from ..run.report import RunReport
from ..run.ticket import ticket_paths

JIRA = "JIRA"
_PROJECT_LINE = re.compile(r"^Project code:\s*(\S+)", re.M)


@record(frozen=False)
class JiraReport:
    """What ``workspace ticket`` packaged and gathered for the ticket."""

    package: RunReport | None
    folder: Path
    files: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace ticket --json``)."""
        data = self.package.to_json() if self.package is not None else {}
        return {**data, "jira": str(self.folder), "files": [str(p) for p in self.files]}


def checklists(sb_dir: Path) -> list[Path]:
    """Return the SB's checklists (``Checklist_SB_<SB>*.txt``) in name order."""
    return sorted(Path(sb_dir).glob(f"Checklist_SB_{Path(sb_dir).name}*.txt"))


def collect_for_jira(packpath: str | Path, sb_dir: str | Path) -> list[Path]:
    """Gather the ticket zip of ``packpath`` and the checklists of ``sb_dir`` into ``JIRA/`` beside the package."""
    packpath, sb_dir = named_folder(packpath), named_folder(sb_dir)
    _, zip_path = ticket_paths(packpath)
    if not zip_path.is_file():
        raise InputError(f"no ticket beside {packpath} ({zip_path.name}); package in ticket mode first")
    folder = packpath.parent / JIRA
    note_writing(str(folder))
    folder.mkdir(exist_ok=True)
    wanted = [(zip_path, f"{packpath.name}.{sb_dir.name}.ticket.zip")]
    wanted += [(checklist, checklist.name) for checklist in checklists(sb_dir)]
    written = []
    for source, name in wanted:
        partial = folder / f".{name}.partial"
        shutil.copyfile(source, partial)
        partial.replace(folder / name)
        written.append(folder / name)
    return written


def project_of(sb_dir: Path) -> str:
    """Return the project code of an SB: from its README.header.txt, or the folder above it."""
    header = sb_dir / "README.header.txt"
    found = _PROJECT_LINE.search(header.read_text(encoding="utf-8", errors="replace")) if header.is_file() else None
    if found and is_project_code(found.group(1)):
        return found.group(1)
    if is_project_code(sb_dir.parent.name):
        return sb_dir.parent.name
    raise InputError(f"no project code for {sb_dir}: write it in {header} ('Project code: 2019.1.01234.S')")


def ticket(sb_dir: str | Path, wait: bool = False) -> JiraReport:
    """Package an SB in ticket mode into ``packaging/ticket/<project>`` and gather ``JIRA/`` there."""
    from ..api import package

    sb_dir = named_folder(sb_dir)
    reduction = sb_dir / sb_dir.name
    if not reduction.is_dir():
        raise InputError(f"{sb_dir} is not a started SB (no {reduction.name}/ inside; run 'qa2pack workspace start')")
    pi_script = sb_dir / "scriptForPI.py"
    options = PackageOptions(mode=Mode.TICKET, readme=sb_dir / "README.header.txt",
                             pi_script=pi_script if pi_script.is_file() else None)
    packpath = sb_dir / "packaging" / "ticket" / project_of(sb_dir)
    report = package(reduction, packpath, options, wait=wait)
    return JiraReport(report, packpath.parent / JIRA, collect_for_jira(packpath, sb_dir))
