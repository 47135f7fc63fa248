"""Make a delivery available to the data reduction manager: links of its files in a web-served folder.

``workspace publish DELIVERY`` puts the delivery's tars, their md5 sidecars, ``md5sums.txt`` and the
ticket into ``<publish_dir>/<delivery>/`` as hard links (copies where the folder is on another file
system), built under a hidden name and renamed whole, and says what to send to the manager.  It
never writes over an existing folder and never changes the delivery.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..core.config import Config, load_config
from ..core.errors import InputError, UsageError, note_writing
from ..core.naming import named_folder
from ..core.record import field, record
from ..delivery.layout import MD5SUMS, parse_tar_name
from ..delivery.verify import is_delivery
from ..run.lock import RunLock, Want
from ..run.progress import counted, human_bytes

log = logging.getLogger(__name__)


@record(frozen=False)
class PublishReport:
    """Where a delivery was published, how, and the message for the data reduction manager."""

    delivery: Path
    folder: Path
    files: list[Path] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)  # across file systems: copies, not links
    url: str = ""

    def message(self) -> str:
        """Return what to tell the data reduction manager."""
        tars = [p for p in self.files if p.suffix == ".tar"]
        names = [parse_tar_name(p.name) for p in tars]
        named = {name[0] for name in names if name is not None}
        project = ", ".join(sorted(named)) or self.delivery.name
        where = self.url.rstrip("/") + "/" + self.folder.name if self.url else str(self.folder)
        size = human_bytes(sum(p.stat().st_size for p in tars))
        return (f"The delivery of {project} is ready: {counted(len(tars), 'tar')} ({size}) at {where}; "
                f"{MD5SUMS} there lists the md5 of every tar.")

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace publish --json``)."""
        return {"delivery": str(self.delivery), "folder": str(self.folder), "url": self.url,
                "files": [p.name for p in self.files], "copied": [p.name for p in self.copied],
                "message": self.message()}


def publish(delivery: str | Path, to: str | Path | None = None, config: Config | None = None,
            wait: bool = False) -> PublishReport:
    """Link (or copy) a delivery's files into ``to`` (default: the ``[workspace] publish_dir`` setting)."""
    config = config or load_config(None)
    delivery = named_folder(delivery)
    if not os.path.lexists(delivery):
        raise InputError(f"does not exist: {delivery}")
    if not is_delivery(delivery):
        raise InputError(f"{delivery} is not a folder made by 'qa2pack deliver' (tars and {MD5SUMS})")
    base = Path(to) if to else Path(config.workspace.publish_dir) if config.workspace.publish_dir else None
    if base is None:
        raise UsageError("where to publish? give --to DIR, or set publish_dir in the [workspace] table of the "
                         "configuration (QA2PACK_CONFIG)")
    target = base.absolute() / delivery.name
    if os.path.lexists(target):
        raise InputError(f"{target} exists already; a published delivery is never written over")
    if not base.is_dir():
        raise InputError(f"the publishing folder does not exist: {base}")
    with RunLock([Want(delivery, exclusive=False), Want(target, exclusive=True)], "workspace publish", wait,
                 on_wait=log.warning):
        return _publish(delivery, target, config.workspace.publish_url)


def _publish(delivery: Path, target: Path, url: str) -> PublishReport:
    files = sorted(p for p in delivery.iterdir() if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
    partial = target.with_name(f".{target.name}.publishing")
    if partial.exists():
        shutil.rmtree(partial)  # left by an interrupted run of this command
    note_writing(str(partial))
    partial.mkdir()
    report = PublishReport(delivery, target, url=url)
    try:
        for source in files:
            try:
                os.link(source, partial / source.name)
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                shutil.copy2(source, partial / source.name)
                report.copied.append(target / source.name)
            report.files.append(target / source.name)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return report
