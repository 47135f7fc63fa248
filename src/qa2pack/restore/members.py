"""What each member of a delivery expects of a restore, and the disk scriptForPI.py will need.

The EBs a member's scripts, PPR and pipeline manifest name, the ASDMs ``raw/`` will hold, and
scriptForPI.py's own estimate of the space it writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from ..core.errors import InputError
from ..core.naming import PIPELINE_MANIFEST_GLOBS, PPR_GLOBS, asdm_uid, calibration_script_uid, matches, natural_sorted
from ..core.record import field, record
from ..delivery.layout import uids_of_member_path
from ..pipeline.manifest import PipelineManifest, parse_pipeline_manifest
from ..pipeline.ppr import ProcessingRequest, parse_ppr
from .unpack import (
    FinalTree,
)

# Scripts that make scriptForPI.py keep another copy of the data (f = 1 in its estimate).
EXTRA_COPY_SCRIPTS = ("scriptForFluxCalibration.py", "scriptForPolCalibration.py", "scriptForImagingPrep.py")


def wanted_text(path: str) -> bool:
    """Tell the listings which contents the checks read: PPRs and pipeline manifests in script/."""
    parent, _, name = path.rpartition("/")
    return parent.rsplit("/", 1)[-1] == "script" and matches(name, PPR_GLOBS + PIPELINE_MANIFEST_GLOBS)


@record(frozen=False)
class RestoreMember:
    """One member folder being prepared, and what its scripts expect."""

    folder: Path
    named_ebs: dict[str, str] = field(default_factory=dict)  # EB uid -> where it is named
    asdms: dict[str, Path] = field(default_factory=dict)  # EB uid -> ASDM folder in raw/
    asdm_bytes: int = 0
    pipeline: bool = False
    sessions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mous: str | None = None
    sous: str | None = None
    gous: str | None = None
    project: str | None = None
    extra_copy: bool = False
    request: ProcessingRequest | None = None
    manifest: PipelineManifest | None = None
    calibrated_delivered: bool = False  # the delivery holds calibrated MSs: nothing to restore

    @property
    def missing(self) -> list[str]:
        """EBs the scripts name that have no ASDM."""
        return natural_sorted(set(self.named_ebs) - set(self.asdms))

    @property
    def semipass(self) -> list[str]:
        """ASDMs present that no script names (semipass data, reported, not an error)."""
        return natural_sorted(set(self.asdms) - set(self.named_ebs))


def _session_keyword(name: str) -> str:
    """Return the PPR keyword of a manifest session: ``session_2`` -> ``SESSION_2``."""
    return name.upper() if name.lower().startswith("session_") else name


def member_folders(tree: FinalTree) -> list[str]:
    """Return the member folders of the final tree: the folders holding a ``script/`` folder."""
    found = set()
    for path in tree.entries:
        parts = path.split("/")
        if "script" in parts:
            found.add("/".join(parts[:parts.index("script")]) or ".")
    if tree.root.is_dir():
        for script in tree.root.rglob("script"):
            if script.is_dir() and not script.is_symlink():
                found.add(script.parent.relative_to(tree.root).as_posix())
    return sorted(rel for rel in found if tree.kind("script" if rel == "." else f"{rel}/script") == "dir")


def _text(tree: FinalTree, texts: Mapping[str, bytes], path: str) -> bytes:
    if path in texts:
        return texts[path]
    return (tree.root / path).read_bytes()


def _tree_size(tree: FinalTree, folder: str) -> int:
    """Bytes below a folder of the final tree: the entries' declared sizes, or the disk's for what is there."""
    prefix = folder + "/"
    planned = sum(e.size for p, e in tree.entries.items() if p.startswith(prefix) and e.kind == "file")
    if planned or not (tree.root / folder).is_dir():
        return planned
    return sum(p.stat().st_size for p in (tree.root / folder).rglob("*") if p.is_file() and not p.is_symlink())


def inspect_member(tree: FinalTree, texts: Mapping[str, bytes], rel: str) -> RestoreMember:
    """Read what a member's scripts, PPR and manifest expect, and which ASDMs ``raw/`` will hold."""
    prefix = "" if rel == "." else f"{rel}/"
    member = RestoreMember(tree.root / rel)
    for name in sorted(tree.children(f"{prefix}script")):
        where = f"script/{name}"
        uid = calibration_script_uid(name)
        if uid:
            member.named_ebs.setdefault(uid, where)
        path = f"{prefix}script/{name}"
        if matches(name, PPR_GLOBS):
            member.pipeline = True
            request = parse_ppr(_text(tree, texts, path), tree.root / path)
            member.request = request
            member.project, member.mous = request.project, request.mous
            member.sous, member.gous = request.sous, request.gous
            member.sessions = dict(request.sessions)
            for eb in list(request.asdms) + [e for ebs in request.sessions.values() for e in ebs]:
                member.named_ebs.setdefault(eb, where)
        if matches(name, PIPELINE_MANIFEST_GLOBS):
            manifest = parse_pipeline_manifest(_text(tree, texts, path), tree.root / path)
            member.manifest = manifest
            for eb in manifest.asdms:
                member.named_ebs.setdefault(eb, where)
            member.sessions = member.sessions or {_session_keyword(n): ebs for n, ebs in manifest.sessions.items()}
            member.mous = member.mous or manifest.ous
        if name in EXTRA_COPY_SCRIPTS or name.endswith(tuple(f".{s}" for s in EXTRA_COPY_SCRIPTS)):
            member.extra_copy = True
    sous, gous, mous = uids_of_member_path(PurePosixPath(tree.root.name if rel == "." else rel).parts)
    member.sous, member.gous, member.mous = member.sous or sous, member.gous or gous, member.mous or mous
    for name in sorted(tree.children(f"{prefix}raw")):
        raw = f"{prefix}raw/{name}"
        if tree.kind(raw) == "dir" and ({"ASDMBinary", "ASDM.xml"} & tree.children(raw)):
            member.asdms[asdm_uid(name)] = tree.root / raw
            member.asdm_bytes += _tree_size(tree, raw)
    member.calibrated_delivered = any(p.startswith(f"{prefix}calibrated/") for p in tree.entries)
    return member


def space_factor(spacesaving: int, extra_copy: bool) -> int:
    """Return scriptForPI.py's disk estimate as a multiple of the raw data size.

    (11 + 3f) with SPACESAVING=0, (7 + 3f) with 1, (3 + 3f) with 2 or more; f = 1 when
    flux, polarisation or imaging-prep scripts are present.
    """
    if spacesaving < 0:
        raise InputError("SPACESAVING must be 0 or more")
    base = 11 if spacesaving == 0 else 7 if spacesaving == 1 else 3
    return base + (3 if extra_copy else 0)
