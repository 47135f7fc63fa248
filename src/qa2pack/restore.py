"""Prepare delivered data for ``scriptForPI.py`` (SPEC section 10, seeds 002 and 003).

Product tars and raw ASDM tars (or folders) are unpacked safely into one place, the raw data
end up in ``raw/`` beside ``script/`` and ``calibration/`` of each member, and the checks
scriptForPI.py would do first are done here, before hours of CASA: every EB the scripts,
the PPR or the pipeline manifest name has its ASDM, ``calibrated/`` does not exist yet, and
the disk can hold what scriptForPI.py will write.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import InputError, RestoreError, UnsafeArchiveError, UsageError
from .layout import LEVELS, MEMBER_LEVEL
from .manifest import CHUNK
from .naming import (
    PIPELINE_MANIFEST_GLOBS,
    PPR_GLOBS,
    asdm_uid,
    calibration_script_uid,
    matches,
    natural_sorted,
)
from .pipemanifest import PipelineManifest, read_pipeline_manifest
from .ppr import ProcessingRequest, RestoreRequest, read_ppr, unread_sessions, write_restore_ppr
from .probe import is_asdm, tree_size
from .progress import Progress, SilentProgress, human_bytes

log = logging.getLogger(__name__)

RAW_TAR_RE = re.compile(r"^(?P<project>.+?)_(?P<uid>uid___[A-Za-z0-9]+_[A-Za-z0-9]+_[A-Za-z0-9]+)\.asdm\.sdm\.tar$")
ASDM_SUFFIX = ".asdm.sdm"
# Scripts that make scriptForPI.py keep another copy of the data (SPEC section 10: f = 1).
EXTRA_COPY_SCRIPTS = ("scriptForFluxCalibration.py", "scriptForPolCalibration.py", "scriptForImagingPrep.py")


def space_factor(spacesaving: int, extra_copy: bool) -> int:
    """Return scriptForPI.py's disk estimate as a multiple of the raw data size.

    (11 + 3f) with SPACESAVING=0, (7 + 3f) with 1, (3 + 3f) with 2 or more; f = 1 when
    flux, polarisation or imaging-prep scripts are present.
    """
    if spacesaving < 0:
        raise UsageError("SPACESAVING must be 0 or more")
    base = 11 if spacesaving == 0 else 7 if spacesaving == 1 else 3
    return base + (3 if extra_copy else 0)


# -- safe unpacking -----------------------------------------------------------------------------


@dataclass
class Unpacked:
    """What unpacking wrote (so that a refused archive can be taken back)."""

    files: list[Path] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)

    def undo(self) -> None:
        """Remove what this unpacking wrote."""
        for path in reversed(self.files):
            if os.path.lexists(path):
                path.unlink()
        for path in sorted(self.dirs, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()


def _safe_target(into: Path, name: str, archive: Path) -> Path:
    """Return where a member may be written, or refuse: absolute, ``..`` or through a link."""
    posix = PurePosixPath(name)
    if posix.is_absolute() or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} has an absolute path; refused, nothing kept")
    if ".." in posix.parts:
        raise UnsafeArchiveError(f"{archive.name}: member {name!r} leaves the target folder (..); refused")
    target = into.joinpath(*[p for p in posix.parts if p not in ("", ".")])
    # Never write through a symbolic link, even one inside the target (a link, then a file through it).
    current = into
    for part in target.relative_to(into).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UnsafeArchiveError(f"{archive.name}: member {name!r} would be written through the link "
                                     f"{current.relative_to(into)}; refused")
    return target


def _inside(path: Path, root: Path) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root + os.sep)


def unpack_tar(archive: Path, into: Path, rename_top: tuple[str, str] | None = None,
               progress: Progress | None = None) -> Unpacked:
    """Unpack one tar into ``into`` member by member, refusing anything unsafe.

    ``rename_top`` (old prefix, new prefix) places raw tars that do not carry their package
    path.  On a refusal everything this call wrote is removed again.
    """
    progress = progress or SilentProgress()
    done = Unpacked()
    try:
        with tarfile.open(archive, "r|*") as tar:
            for member in tar:
                name = _renamed(member.name, rename_top)
                target = _safe_target(into, name, archive)
                _extract_one(tar, member, target, into, archive, done)
                progress.advance(1 if member.isfile() else 0, member.size if member.isfile() else 0)
    except UnsafeArchiveError:
        done.undo()
        raise
    except tarfile.TarError as exc:
        done.undo()
        raise InputError(f"{archive} is not a readable tar file ({exc})") from None
    return done


def _renamed(name: str, rename: tuple[str, str] | None) -> str:
    """Apply ``(old_prefix, new_prefix)`` to a member name ('' as old prefix: put new in front)."""
    if rename is None:
        return name
    old, new = rename
    clean = name.strip("/")
    if not old:
        return f"{new}/{clean}" if clean else new
    if clean == old or clean.startswith(old + "/"):
        return new + clean[len(old):]
    return f"{new}/{clean}"


def _mkdirs(path: Path, into: Path, done: Unpacked) -> None:
    missing = []
    current = path
    while not current.exists() and current != into:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        folder.mkdir()
        done.dirs.append(folder)


def _extract_one(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path, into: Path, archive: Path,
                 done: Unpacked) -> None:
    if member.isdir():
        _mkdirs(target, into, done)
        return
    _mkdirs(target.parent, into, done)
    if os.path.lexists(target):
        raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} would overwrite {target}; refused")
    if member.issym():
        link_target = target.parent / member.linkname
        if os.path.isabs(member.linkname) or not _inside(link_target, into):
            raise UnsafeArchiveError(f"{archive.name}: link {member.name!r} -> {member.linkname!r} points outside "
                                     "the target folder; refused")
        os.symlink(member.linkname, target)
        done.files.append(target)
        return
    if member.islnk():
        source = _safe_target(into, member.linkname, archive)
        if not source.is_file() or source.is_symlink() or not _inside(source, into):
            raise UnsafeArchiveError(f"{archive.name}: hard link {member.name!r} -> {member.linkname!r} points "
                                     "outside the target folder; refused")
        os.link(source, target)
        done.files.append(target)
        return
    if not member.isfile():
        raise UnsafeArchiveError(f"{archive.name}: member {member.name!r} is a device, fifo or other special file; "
                                 "refused")
    handle = tar.extractfile(member)
    assert handle is not None
    with open(target, "xb") as out:
        done.files.append(target)
        while block := handle.read(CHUNK):
            out.write(block)
    os.chmod(target, stat.S_IMODE(member.mode) & 0o755 | 0o600)
    os.utime(target, (member.mtime, member.mtime))


def _tar_top(archive: Path) -> str:
    """Return the first member name of a tar (raw tars with or without the package path)."""
    with tarfile.open(archive, "r|*") as tar:
        for member in tar:
            return member.name
    return ""


# -- the members of the restored package ---------------------------------------------------------


@dataclass
class RestoreMember:
    """One member folder being prepared, and what its scripts expect."""

    folder: Path
    named_ebs: dict[str, str] = field(default_factory=dict)  # EB uid -> where it is named
    asdms: dict[str, Path] = field(default_factory=dict)  # EB uid -> ASDM folder in raw/
    pipeline: bool = False
    sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mous: str | None = None
    sous: str | None = None
    gous: str | None = None
    project: str | None = None
    extra_copy: bool = False
    request: ProcessingRequest | None = None
    manifest: PipelineManifest | None = None

    @property
    def missing(self) -> list[str]:
        """EBs the scripts name that have no ASDM."""
        return natural_sorted(set(self.named_ebs) - set(self.asdms))

    @property
    def semipass(self) -> list[str]:
        """ASDMs present that no script names (semipass data, reported, not an error)."""
        return natural_sorted(set(self.asdms) - set(self.named_ebs))


def find_members(into: Path) -> list[Path]:
    """Return the member folders below ``into`` (a folder with a script/ folder)."""
    return sorted({p.parent for p in into.rglob("script") if p.is_dir() and not p.is_symlink()},
                  key=lambda p: p.as_posix())


def _session_keyword(name: str) -> str:
    """Return the PPR keyword of a manifest session: ``session_2`` -> ``SESSION_2``."""
    return name.upper() if name.lower().startswith("session_") else name


def inspect_member(folder: Path) -> RestoreMember:
    """Read what a member's scripts, PPR and manifest expect, and which ASDMs raw/ holds."""
    member = RestoreMember(folder)
    script = folder / "script"
    names = sorted(p.name for p in script.iterdir()) if script.is_dir() else []
    for name in names:
        uid = calibration_script_uid(name)
        if uid:
            member.named_ebs.setdefault(uid, f"script/{name}")
        if matches(name, PPR_GLOBS):
            member.pipeline = True
            request = read_ppr(script / name)
            member.request = request
            member.project, member.mous = request.project, request.mous
            member.sous, member.gous = request.sous, request.gous
            member.sessions = dict(request.sessions)
            for uid in list(request.asdms) + [e for ebs in request.sessions.values() for e in ebs]:
                member.named_ebs.setdefault(uid, f"script/{name}")
        if matches(name, PIPELINE_MANIFEST_GLOBS):
            manifest = read_pipeline_manifest(script / name)
            member.manifest = manifest
            for uid in manifest.asdms:
                member.named_ebs.setdefault(uid, f"script/{name}")
            member.sessions = member.sessions or {_session_keyword(n): ebs for n, ebs in manifest.sessions.items()}
            member.mous = member.mous or manifest.ous
        if name in EXTRA_COPY_SCRIPTS or name.endswith(tuple(f".{s}" for s in EXTRA_COPY_SCRIPTS)):
            member.extra_copy = True
    levels = [p.name for p in (folder, folder.parent, folder.parent.parent)]
    for name, level, attr in zip(levels, reversed(LEVELS), ("mous", "gous", "sous"), strict=True):
        if getattr(member, attr) is None:
            setattr(member, attr, level.uid_of(name))
    raw = folder / "raw"
    if raw.is_dir():
        for entry in sorted(raw.iterdir()):
            if is_asdm(entry):
                member.asdms[asdm_uid(entry.name)] = entry
    return member


def _link_or_copy_tree(source: Path, target: Path) -> None:
    """Place a folder given on the command line: hard links where possible, copies otherwise."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copy2(src, dst)

    shutil.copytree(source, target, symlinks=True, copy_function=link)


@dataclass
class RestoreReport:
    """What restore-prep did and what to run next."""

    into: Path
    members: list[RestoreMember]
    commands: list[str]
    needed: int
    free: int
    spacesaving: int
    unpacked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pprs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``restore-prep --json``)."""
        return {
            "into": str(self.into),
            "spacesaving": self.spacesaving,
            "needed_bytes": self.needed,
            "free_bytes": self.free,
            "unpacked": self.unpacked,
            "warnings": self.warnings,
            "written_pprs": self.pprs,
            "members": [{"folder": str(m.folder), "pipeline": m.pipeline, "ebs": natural_sorted(m.named_ebs),
                         "asdms": {k: str(v) for k, v in sorted(m.asdms.items())}, "semipass": m.semipass}
                        for m in self.members],
            "next": self.commands,
        }


def _member_for(uid: str, members: Sequence[Path]) -> Path:
    """Return the member whose scripts name an EB (for raw data without its own package path)."""
    if len(members) == 1:
        return members[0]
    naming = [m for m in members if uid in inspect_member(m).named_ebs]
    if len(naming) != 1:
        raise RestoreError(f"cannot tell which member the raw data of {uid} belong to; "
                           "unpack it into that member's raw/ folder yourself")
    return naming[0]


def restore_prep(inputs: Sequence[Path], into: Path, spacesaving: int = 1, write_ppr: bool = False,
                 progress: Progress | None = None) -> RestoreReport:
    """Unpack and arrange product and raw data for scriptForPI.py, check it, say what to run."""
    progress = progress or SilentProgress()
    into = Path(into)
    space_factor(spacesaving, False)  # validates SPACESAVING before anything is written
    tars: list[Path] = []
    folders: list[Path] = []
    for path in map(Path, inputs):
        if path.is_dir():
            inner = sorted(path.glob("*.tar"))
            if inner and not is_asdm(path):
                tars += inner
            else:
                folders.append(path)
        elif path.is_file() and path.name.endswith(".tar"):
            tars.append(path)
        else:
            raise InputError(f"not a tar file or folder: {path}")
    raw_tars = [t for t in tars if RAW_TAR_RE.match(t.name)]
    product_tars = [t for t in tars if t not in raw_tars]
    into.mkdir(parents=True, exist_ok=True)
    needed_unpack = sum(t.stat().st_size for t in tars) + sum(tree_size(f) for f in folders)
    free = shutil.disk_usage(into).free
    if needed_unpack > free:
        raise RestoreError(f"not enough space in {into} to unpack: {human_bytes(needed_unpack)} needed, "
                           f"{human_bytes(free)} free; nothing was written")
    for member in find_members(into):  # a restore that has run already must not be prepared over
        if (member / "calibrated").exists():
            raise RestoreError(f"{member / 'calibrated'} exists already: scriptForPI.py has run here; "
                               "move it away (or restore into a new folder) first")
    report = RestoreReport(into, [], [], 0, 0, spacesaving)
    progress.start("restore-prep: unpacking", needed_unpack, 0)
    for archive in product_tars:
        unpack_tar(archive, into, progress=progress)
        report.unpacked.append(archive.name)
    for folder in folders:
        if is_asdm(folder):
            continue  # placed below, once the members are known
        if not any(MEMBER_LEVEL.holds(p.name) for p in folder.rglob("*") if p.is_dir()):
            raise InputError(f"{folder} is neither an ASDM nor an unpacked package")
        if (into / folder.name).exists():
            raise RestoreError(f"{into / folder.name} exists already")
        _link_or_copy_tree(folder, into / folder.name)  # an unpacked package
        report.unpacked.append(str(folder))
    members = find_members(into)
    if not members:
        raise RestoreError("no member folder (with a script/ folder) among the inputs; give the product tars too")
    for archive in raw_tars:
        uid = RAW_TAR_RE.match(archive.name)["uid"]  # type: ignore[index]
        parts = PurePosixPath(_tar_top(archive)).parts
        if "raw" in parts[1:]:
            unpack_tar(archive, into, progress=progress)  # carries its package path down to raw/
        else:
            member_rel = _member_for(uid, members).relative_to(into).as_posix()
            asdm = f"{member_rel}/raw/{uid}{ASDM_SUFFIX}"
            rename: tuple[str, str]
            if parts and parts[0] == "raw":
                rename = ("", member_rel)
            elif parts and parts[0].startswith(uid):
                rename = (parts[0], asdm)  # <uid>/ or <uid>.asdm.sdm/ at the top
            else:
                rename = ("", asdm)  # the ASDM's files at the top
            unpack_tar(archive, into, rename_top=rename, progress=progress)
        report.unpacked.append(archive.name)
    for folder in folders:
        if is_asdm(folder):
            uid = asdm_uid(folder.name)
            member = _member_for(uid, members)
            target = member / "raw" / f"{uid}{ASDM_SUFFIX}"
            if target.exists():
                raise RestoreError(f"{target} exists already")
            target.parent.mkdir(exist_ok=True)
            _link_or_copy_tree(folder, target)
            report.unpacked.append(str(folder))
    progress.finish()
    _check_members(report, members, write_ppr)
    return report


def _check_members(report: RestoreReport, folders: Sequence[Path], write_ppr: bool) -> None:
    raw_size = 0
    extra_copy = False
    for folder in folders:
        member = inspect_member(folder)
        report.members.append(member)
        if member.missing:
            where = ", ".join(f"{uid} (named in {member.named_ebs[uid]})" for uid in member.missing)
            raise RestoreError(f"{folder.relative_to(report.into)}: no ASDM in raw/ for {where}; download "
                               "the raw data (<Project>_<EB uid>.asdm.sdm.tar) and give it too")
        for uid in member.semipass:
            report.warnings.append(f"{uid}: an ASDM no script names (semipass data?); scriptForPI.py ignores it")
        skipped_sessions = unread_sessions(member.sessions) if member.pipeline else []
        if skipped_sessions:
            report.warnings.append(f"{folder.relative_to(report.into)}: the pipeline's PPR reader reads sessions from "
                                   f"SESSION_1 up to the first gap and skips {', '.join(skipped_sessions)}; "
                                   "restore with the delivered restore script (scriptForPI.py does), which names "
                                   "every session")
        if (folder / "calibrated").exists():
            raise RestoreError(f"{folder / 'calibrated'} exists already; move it away first")
        raw_size += sum(tree_size(path) for path in member.asdms.values())
        extra_copy |= member.extra_copy
        script = folder / "script"
        casa = "casa --pipeline" if member.pipeline else "casa"
        report.commands.append(f"cd {script} && {casa} -c \"SPACESAVING={report.spacesaving}; "
                               "execfile('scriptForPI.py')\"")
        if write_ppr:
            report.pprs.append(str(_write_ppr(member)))
    report.needed = space_factor(report.spacesaving, extra_copy) * raw_size
    report.free = shutil.disk_usage(report.into).free
    if report.needed > report.free:
        raise RestoreError(f"scriptForPI.py will need about {human_bytes(report.needed)} (SPACESAVING="
                           f"{report.spacesaving}: {space_factor(report.spacesaving, extra_copy)} x "
                           f"{human_bytes(raw_size)} of raw data) but {human_bytes(report.free)} are free in "
                           f"{report.into}; free space or use a higher SPACESAVING")


def _write_ppr(member: RestoreMember) -> Path:
    """Write the restore PPR beside script/ (not in it: scriptForPI.py wants one PPR there)."""
    if member.mous is None:
        raise RestoreError(f"{member.folder}: the member OUS uid is unknown (no PPR, manifest or member.uid___ "
                           "folder name); cannot write a restore PPR")
    sessions = member.sessions or {"SESSION_1": tuple(natural_sorted(member.asdms or member.named_ebs))}
    project = member.project or member.folder.parents[2].name
    path = member.folder / f"PPR_{member.mous}_restore.xml"
    write_restore_ppr(path, RestoreRequest(project, member.mous, sessions, member.sous, member.gous, member.request))
    return path
