"""The ticket beside packpath: READMEs, qa/ and script/ files and the expected size.

Analysts attach it to the data-reduction ticket; the zip can be opened directly from JIRA.
Both files are written to a temporary name and renamed, so a ticket is never half-written.
"""

from __future__ import annotations

import os
import tarfile
import time
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath

SIZE_FILE = "expected_size.txt"
# Formats that are compressed already: deflating them again costs time and saves nothing.
STORED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".gz", ".tgz", ".bz2", ".xz", ".zip", ".fz"})


def ticket_paths(packpath: Path) -> tuple[Path, Path]:
    """Return the ticket tar and zip paths of a package."""
    return (packpath.parent / f"{packpath.name}.ticket.tar", packpath.parent / f"{packpath.name}.ticket.zip")


def write_ticket(packpath: Path, files: list[PurePosixPath], size_text: str) -> tuple[Path, Path]:
    """Write ``<name>.ticket.tar`` and ``.zip`` from the package files listed in ``files``."""
    tar_path, zip_path = ticket_paths(packpath)
    name = packpath.name
    size_bytes = size_text.encode()
    present = [rel for rel in files if (packpath / rel).is_file()]
    tmp_tar = tar_path.with_name(tar_path.name + ".tmp")
    with tarfile.open(tmp_tar, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in present:
            tar.add(packpath / rel, f"{name}/{rel.as_posix()}", recursive=False)
        info = tarfile.TarInfo(f"{name}/{SIZE_FILE}")
        info.size = len(size_bytes)
        info.mtime = int(time.time())
        info.mode = 0o644
        tar.addfile(info, BytesIO(size_bytes))
    os.replace(tmp_tar, tar_path)
    tmp_zip = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for rel in present:
            stored = rel.suffix.lower() in STORED_SUFFIXES
            archive.write(packpath / rel, f"{name}/{rel.as_posix()}",
                          compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        archive.writestr(f"{name}/{SIZE_FILE}", size_bytes)
    os.replace(tmp_zip, zip_path)
    return tar_path, zip_path
