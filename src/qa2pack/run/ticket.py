"""The ticket beside packpath: READMEs, qa/ and script/ files and the expected size.

Analysts attach it to the data-reduction ticket; the zip can be opened directly from JIRA.
Both files are written to a temporary name and renamed, so a ticket is never half-written.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tarfile
import time
import zipfile
from io import BytesIO
from pathlib import Path, PurePosixPath

SIZE_FILE = "expected_size.txt"
# Formats that are compressed already: deflating them again costs time and saves nothing.
STORED_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".gz", ".tgz", ".bz2", ".xz", ".zip", ".fz"})
_DEFLATE_FROM = 1024  # smaller files are stored too: deflate would save a few bytes at the cost of its set-up


def ticket_paths(packpath: Path) -> tuple[Path, Path]:
    """Return the ticket tar and zip paths of a package."""
    return (packpath.parent / f"{packpath.name}.ticket.tar", packpath.parent / f"{packpath.name}.ticket.zip")


class _Owners:
    """User and group names by id, looked up once each (tarfile would look them up for every member)."""

    def __init__(self) -> None:
        self._names: dict[tuple[bool, int], str] = {}

    def name(self, number: int, group: bool = False) -> str:
        if (group, number) not in self._names:
            try:
                found = grp.getgrgid(number).gr_name if group else pwd.getpwuid(number).pw_name
            except KeyError:
                found = ""
            self._names[(group, number)] = found
        return self._names[(group, number)]


def _member(arcname: str, st: os.stat_result, owners: _Owners) -> tarfile.TarInfo:
    """Return the tar header of one file, in whole seconds (a fraction costs each member a pax header)."""
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname, info.gname = owners.name(st.st_uid), owners.name(st.st_gid, group=True)
    return info


def write_ticket(packpath: Path, files: list[PurePosixPath], size_text: str) -> tuple[Path, Path]:
    """Write ``<name>.ticket.tar`` and ``.zip`` from the package files listed in ``files``."""
    tar_path, zip_path = ticket_paths(packpath)
    name = packpath.name
    size_bytes = size_text.encode()
    present = [rel for rel in files if (packpath / rel).is_file()]
    tmp_tar = tar_path.with_name(tar_path.name + ".tmp")
    with tarfile.open(tmp_tar, "w", format=tarfile.PAX_FORMAT) as tar:
        owners = _Owners()
        sizes: dict[PurePosixPath, int] = {}
        for rel in present:
            with open(packpath / rel, "rb") as handle:
                st = os.fstat(handle.fileno())
                tar.addfile(_member(f"{name}/{rel.as_posix()}", st, owners), handle)
            sizes[rel] = st.st_size
        info = tarfile.TarInfo(f"{name}/{SIZE_FILE}")
        info.size = len(size_bytes)
        info.mtime = int(time.time())
        info.mode = 0o644
        tar.addfile(info, BytesIO(size_bytes))
    os.replace(tmp_tar, tar_path)
    tmp_zip = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
        for rel in present:
            stored = rel.suffix.lower() in STORED_SUFFIXES or sizes[rel] < _DEFLATE_FROM
            archive.write(packpath / rel, f"{name}/{rel.as_posix()}",
                          compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
        archive.writestr(f"{name}/{SIZE_FILE}", size_bytes)
    os.replace(tmp_zip, zip_path)
    return tar_path, zip_path
