"""Where each thing found goes inside a member folder, and under which name.

Pure: a file or unit plus its :class:`~qa2pack.scan.members.Context` in, a :class:`Placement`
(or :class:`~qa2pack.core.model.NotPlaced`, why it is not packaged) out.
"""

from __future__ import annotations

from ..core.config import Config
from ..core.model import Kind, NotPlaced, Unit, Why
from ..core.naming import eb_uid_of, matches, natural_key
from ..core.record import record
from ..scan.members import Context


@record
class Placement:
    """A destination inside a member: package folder, optional subfolder, final name."""

    folder: str  # a Config folder key: product, calibration, qa, script, log, raw, calibrated
    name: str
    rule: str
    sub: str | None = None
    eb_uid: str | None = None
    collision_prefix: str = ""  # put in front of the name if the target is already taken


@record
class Candidate:
    """A packaged source before its final target is known."""

    source: str
    kind: Kind
    placement: Placement
    files: tuple[tuple[str, int], ...]
    dirs: tuple[str, ...] = ()
    link_target: str | None = None

    @property
    def order(self) -> tuple[int, tuple[str | int, ...], str]:
        """Shallower sources win a name; ties go by natural path order (input order never matters)."""
        return (self.source.count("/"), natural_key(self.source), self.source)


@record
class Rules:
    """The parts of the options that change placement."""

    config: Config
    include_ms: bool = True
    include_asdm: bool = False
    asdms: frozenset[str] = frozenset()
    pipeline: bool = False


def _eb_uid(ctx: Context, name: str) -> str | None:
    """Return the EB a file belongs to by where it lies (None outside EB folders and for combined products)."""
    return ctx.eb.uid_for(name) if ctx.eb is not None else None


def _collision_prefix(ctx: Context, name: str) -> str:
    uid = _eb_uid(ctx, name)
    return f"{uid}__" if uid else f"{ctx.folder.name}__"


def _eb_of(name: str, ctx: Context, rules: Rules) -> str | None:
    """Return the EB a flag-version, fluxscale or plot folder belongs to: by name, else by folder."""
    return eb_uid_of(name, rules.asdms) or _eb_uid(ctx, name)


def _qa_name(name: str, ctx: Context) -> str:
    """QA2 files in an EB folder get the EB uid in front unless they start with uid or X."""
    uid = _eb_uid(ctx, name)
    if uid is not None and not name.startswith(("uid", "X")):
        return f"{uid}__{name}"
    return name


def _staged(name: str, ctx: Context) -> Placement | None:
    """Inside a staged pipeline package, delivered files stay where the stager put them."""
    if ctx.staged is None:
        return None
    folder, below = ctx.staged
    return Placement(folder, name, "staged pipeline product (kept)", below or None,
                     collision_prefix=f"{ctx.folder.name}__")


STAGED_README_REASON = "README of the staged package (rewritten; its header is kept unless --readme is given)"


def place_file(name: str, ctx: Context, rules: Rules) -> Placement | NotPlaced:
    """Return where a regular file goes, or the reason it is not packaged."""
    cfg = rules.config
    staged = _staged(name, ctx)
    if staged is not None:
        return staged
    if ctx.staged_root and name == "README":
        return NotPlaced(Why.STAGED_README, STAGED_README_REASON)
    prefix = _collision_prefix(ctx, name)
    if matches(name, cfg.ephemeris_patterns):
        return Placement("calibrated", name, "ephemeris (*.eph)", collision_prefix=prefix)
    if matches(name, cfg.fluxscale_patterns):
        uid = _eb_of(name, ctx, rules)
        if uid is None:
            return NotPlaced(Why.NO_EB, "fluxscale file that names no EB uid and is not in an EB folder")
        return Placement("calibration", name, "fluxscale file of its EB", f"{uid}.calibration", uid, prefix)
    if matches(name, cfg.script_patterns):
        return Placement("script", name, "script (*.py)", eb_uid=_eb_uid(ctx, name), collision_prefix=prefix)
    if matches(name, cfg.log_patterns):
        uid = _eb_uid(ctx, name)
        if ctx.eb is None:
            return Placement("log", name, "log at the SB level (name kept)", collision_prefix=prefix)
        if uid is None:
            return Placement("log", name, "log of a folder of several EBs (a combined product, name kept)",
                             collision_prefix=prefix)
        target = name if name.startswith(uid) else f"{uid}__{name}"
        return Placement("log", target, "log of an EB (EB uid in front)", eb_uid=uid, collision_prefix=prefix)
    if matches(name, cfg.checklist_patterns):
        if not ctx.qa_place:
            return NotPlaced(Why.MISPLACED, "checklist outside the SB level, an EB folder or a qa2 folder")
        if ctx.eb is None:
            return Placement("qa", name, "checklist (name kept)", collision_prefix=prefix)
        folder = ctx.eb.name
        target = name if name.startswith(folder) else f"{folder}.{name}"
        return Placement("qa", target, "checklist of an EB (folder name in front)", eb_uid=_eb_uid(ctx, name),
                         collision_prefix=prefix)
    if matches(name, cfg.qa2_patterns) or matches(name, cfg.qa2_others):
        if not ctx.qa_place:
            return NotPlaced(Why.MISPLACED, "QA2 file outside the SB level, an EB folder or a qa2 folder")
        uid = _eb_uid(ctx, name)
        rule = "QA2 file of an EB" if uid else "QA2 file at the SB level (name kept)"
        return Placement("qa", _qa_name(name, ctx), rule, eb_uid=uid, collision_prefix=prefix)
    if matches(name, cfg.product_patterns):
        return Placement("product", name, "FITS image", eb_uid=_eb_uid(ctx, name), collision_prefix=prefix)
    return NotPlaced(Why.NO_RULE, "no packaging rule for this file")


def place_unit(unit: Unit, ctx: Context, rules: Rules) -> Placement | NotPlaced:
    """Return where a folder copied whole goes, or the reason it is not packaged."""
    cfg = rules.config
    name = unit.name
    staged = _staged(name, ctx)
    if staged is not None and unit.kind is not Kind.MS:
        return staged
    prefix = _collision_prefix(ctx, name)
    if unit.kind is Kind.ASDM:
        if not rules.include_asdm:
            return NotPlaced(Why.RAW_DATA, "ASDM (raw data is delivered by the archive; --include-asdm packages it in raw/)")
        return Placement("raw", name, "ASDM (--include-asdm)", eb_uid=_eb_of(name, ctx, rules), collision_prefix=prefix)
    if unit.kind is Kind.MS:
        uid = eb_uid_of(name, rules.asdms)
        for folder, endings in (("calibrated", cfg.caldatacopy), ("raw", cfg.rawdatacopy)):
            ending = next((e for e in endings if name.endswith(e)), None)
            if ending is None:
                continue
            if not rules.include_ms:
                return NotPlaced(Why.MS_LEFT_OUT, "MS not packaged: this style (or --noms) leaves MSs out")
            return Placement(folder, name, f"MS ending in {ending}", eb_uid=uid, collision_prefix=prefix)
        delivered = ", ".join(cfg.caldatacopy + cfg.rawdatacopy)
        return NotPlaced(Why.MS_LEFT_OUT, f"MS not packaged (only names ending in {delivered} are)")
    if unit.kind is Kind.CALTABLE:
        uid = eb_uid_of(name, rules.asdms)
        if uid is None:
            return Placement("calibration", name, "caltable that names no EB (kept at the calibration level)",
                             collision_prefix=prefix)
        return Placement("calibration", name, "caltable of its EB", f"{uid}.calibration", uid, prefix)
    if unit.kind is Kind.FLAGVERSIONS:
        uid = _eb_of(name, ctx, rules)
        if uid is None:
            return NotPlaced(Why.NO_EB, "flag versions of an MS that names no EB")
        return Placement("calibration", name, "flag versions of its EB", f"{uid}.calibration", uid, prefix)
    if unit.kind is Kind.IMAGE:
        if matches(name, cfg.mask_patterns):
            return Placement("product", name, "CASA image mask", collision_prefix=prefix)
        return NotPlaced(Why.NOT_DELIVERED, "CASA image (only masks are delivered; FITS images are the products)")
    if unit.kind is Kind.PLOTS:
        uid = _eb_of(name, ctx, rules)
        if uid is None:
            return NotPlaced(Why.NO_EB, "plot folder outside any EB folder and not named after an EB")
        return Placement("calibration", name, "plot folder of its EB", f"{uid}.calibration.plots", uid, prefix)
    if unit.kind in (Kind.TABLE, Kind.FOLDER) and (matches(name, cfg.qa2_patterns) or matches(name, cfg.qa2_others)):
        if not ctx.qa_place:
            return NotPlaced(Why.MISPLACED, "QA2 folder outside the SB level, an EB folder or a qa2 folder")
        return Placement("qa", _qa_name(name, ctx), "QA2 folder", eb_uid=_eb_uid(ctx, name), collision_prefix=prefix)
    return NotPlaced(Why.NO_RULE, f"{unit.kind.value} with no packaging rule")
