"""Place everything found in origpath (pure): candidates, links packaged once, ephemerides once.

Planning has two steps so that the few file contents the plan depends on are read only for
what is actually packaged: :func:`draft_plan` places everything; the caller reads the
ephemerides, calibration scripts and FITS headers the draft names (:class:`ContentFacts`);
:func:`~qa2pack.planning.complete.complete_plan` runs the content checks and renders the READMEs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from ..core.config import Config
from ..core.model import (
    Action,
    Finding,
    Folder,
    Kind,
    Mode,
    NotPlaced,
    Op,
    PackageState,
    Skipped,
    Unit,
    Why,
    flatten,
)
from ..core.naming import matches
from ..core.options import PackageOptions
from ..core.record import field, record, replace
from ..delivery.layout import (
    README_NAME,
    package_folder,
)
from ..scan.members import Context, MemberSource, asdm_names, find_members, folder_contexts, staged_members
from .checks import is_ephemeris, refuse_undeliverable_names, structure_checks
from .numbering import member_folders
from .placement import Candidate, Rules, place_file, place_unit
from .readme import ImageSummary
from .targets import assign_targets


@record
class ExternalFiles:
    """Inputs that live outside origpath: the README header and the PI script."""

    readme_text: str | None = None
    pi_script: Path | None = None
    pi_script_size: int = 0


@record
class ContentFacts:
    """The few file contents the plan depends on, read by the caller between the two steps."""

    eph_digests: dict[str, str] = field(default_factory=dict)  # source -> md5
    fixplanets_scripts: frozenset[str] = frozenset()  # sources of calibration scripts naming fixplanets
    images: dict[str, ImageSummary] = field(default_factory=dict)  # source -> summary
    fits_problems: dict[str, str] = field(default_factory=dict)  # source -> why it gives no summary


@record
class DraftMember:
    """A member with its actions placed but no README yet."""

    folder: PurePosixPath
    source: str
    eb_uids: tuple[str, ...]
    eb_folders: tuple[str, ...]
    actions: tuple[Action, ...]
    joins_existing: bool


@record
class Draft:
    """The result of :func:`draft_plan`; :meth:`calibration_scripts` and :meth:`fits_sources` name what to read next."""

    origpath: Path
    packname: str
    options: PackageOptions
    state: PackageState
    externals: ExternalFiles
    members: tuple[DraftMember, ...]
    skipped: tuple[Skipped, ...]
    findings: tuple[Finding, ...]
    ephemerides: tuple[tuple[str, tuple[str, ...]], ...]
    new_dirs: tuple[PurePosixPath, ...]
    owner_samples: tuple[str, ...] = ()

    def calibration_scripts(self) -> list[str]:
        """Return the sources of packaged calibration scripts (searched for ``fixplanets``)."""
        patterns = self.options.config.calibration_script_patterns
        return [a.source for a in self._actions() if a.source and package_folder(a.target) == self.options.config.script
                and a.origin_root is None and matches(a.target.name, patterns)]

    def fits_sources(self) -> list[str]:
        """Return the sources of packaged FITS products (read for the README summary)."""
        return [a.source for a in self._actions() if a.source and a.kind is Kind.FILE
                and package_folder(a.target) == self.options.config.product and a.target.name.lower().endswith(".fits")]

    def _actions(self) -> list[Action]:
        return [a for m in self.members for a in flatten(m.actions)]


EMPTY_STATE = PackageState()


NO_EXTERNALS = ExternalFiles()


def _folder_as_unit(folder: Folder) -> Unit:
    """Turn a plain folder named in ``qa2_others`` into a unit copied whole."""
    files: list[tuple[str, int]] = []
    dirs: list[str] = []
    base = len(folder.rel) + 1
    for sub in folder.walk():
        inner = sub.rel[base:]
        if inner:
            dirs.append(inner)
        prefix = f"{inner}/" if inner else ""
        files.extend((prefix + f.name, f.size) for f in sub.files)
        for unit in sub.units:
            unit_prefix = prefix + unit.name
            dirs.append(unit_prefix)
            dirs.extend(f"{unit_prefix}/{d}" for d in unit.dirs)
            files.extend((f"{unit_prefix}/{name}", size) for name, size in unit.files)
    return Unit(folder.name, folder.rel, Kind.FOLDER, tuple(sorted(files)), tuple(sorted(dirs)), None, folder.real_rel)


def _absorb_named_folders(folder: Folder, patterns: Sequence[str]) -> Folder:
    if not patterns:
        return folder
    keep, absorbed = [], list(folder.units)
    for child in folder.folders:
        if matches(child.name, patterns):
            absorbed.append(_folder_as_unit(child))
        else:
            keep.append(_absorb_named_folders(child, patterns))
    return replace(folder, folders=tuple(keep), units=tuple(absorbed))


def _kept_folders(config: Config) -> dict[str, str]:
    """Package folders whose content a pipeline style keeps as staged (not raw/ or calibrated/)."""
    return {config.folder(key): key for key in ("product", "calibration", "qa", "script", "log")}


def _candidates(member: MemberSource, rules: Rules) -> tuple[list[Candidate], list[Skipped]]:
    cands: list[Candidate] = []
    skipped: list[Skipped] = []
    kept = _kept_folders(rules.config) if rules.pipeline else None
    for ctx in folder_contexts(member, rules.config.qa2_folders, kept):
        _place_folder(ctx, rules, cands, skipped)
    return cands, skipped


def _place_folder(ctx: Context, rules: Rules, cands: list[Candidate], skipped: list[Skipped]) -> None:
    for unit in ctx.folder.units:
        where = place_unit(unit, ctx, rules)
        if isinstance(where, NotPlaced):
            skipped.append(Skipped(unit.rel, unit.kind, where.reason, where.why))
        else:
            cands.append(Candidate(unit.rel, unit.kind, where, unit.files, unit.dirs, unit.real_rel))
    for entry in ctx.folder.files:
        rel = f"{ctx.folder.rel}/{entry.name}" if ctx.folder.rel else entry.name
        where = place_file(entry.name, ctx, rules)
        if isinstance(where, NotPlaced):
            skipped.append(Skipped(rel, Kind.FILE, where.reason, where.why))
        else:
            cands.append(Candidate(rel, Kind.FILE, where, (("", entry.size),), (), entry.link_target))


def _outside(tree: Folder, members: Sequence[MemberSource]) -> list[Skipped]:
    """Everything that belongs to no member is reported, never dropped."""
    roots = {m.root.rel for m in members}
    reason = "outside every member folder"
    out: list[Skipped] = []

    def visit(folder: Folder) -> None:
        if folder.rel in roots:
            return
        if not any(r.startswith(folder.rel + "/") or folder.rel == "" for r in roots):
            out.append(Skipped(folder.rel, Kind.FOLDER, reason, Why.OUTSIDE_MEMBERS))
            return
        prefix = f"{folder.rel}/" if folder.rel else ""
        out.extend(Skipped(prefix + f.name, Kind.FILE, reason, Why.OUTSIDE_MEMBERS) for f in folder.files)
        out.extend(Skipped(u.rel, u.kind, reason, Why.OUTSIDE_MEMBERS) for u in folder.units)
        for child in folder.folders:
            visit(child)

    visit(tree)
    return out


def _dedupe_links(cands: list[Candidate]) -> tuple[list[Candidate], list[Skipped]]:
    """Package a file once even if links make it reachable twice (the real path wins)."""
    real_sources = {c.source for c in cands if c.link_target is None}
    kept: list[Candidate] = []
    skipped: list[Skipped] = []
    seen_targets: dict[str, str] = {}
    for cand in sorted(cands, key=lambda c: c.order):
        target = cand.link_target
        if target is None:
            kept.append(cand)
        elif target in real_sources:
            skipped.append(Skipped(cand.source, Kind.LINK, f"link to {target}, which is packaged already", Why.LINK_DUPLICATE))
        elif target in seen_targets:
            skipped.append(Skipped(cand.source, Kind.LINK, f"link to {target}, packaged already through "
                                                            f"{seen_targets[target]}", Why.LINK_DUPLICATE))
        else:
            seen_targets[target] = cand.source
            kept.append(cand)
    return kept, skipped


def _gzip_caltables(actions: list[Action], member_folder: PurePosixPath, config: Config) -> list[Action]:
    """Replace each ``<EB>.calibration/`` folder by one ``<EB>.calibration.tgz`` archive."""
    calibration = member_folder / config.calibration
    groups: dict[PurePosixPath, list[Action]] = defaultdict(list)
    rest = []
    for action in actions:
        parent = action.target.parent
        if parent.parent == calibration and parent.name.endswith(".calibration"):
            groups[parent].append(action)
        else:
            rest.append(action)
    for folder, parts in sorted(groups.items()):
        rest.append(Action(folder.with_name(folder.name + ".tgz"), Kind.FILE,
                           "calibration tables of one EB, gzipped (--gzip-caltables)",
                           op=Op.ARCHIVE, parts=tuple(parts), eb_uid=parts[0].eb_uid))
    return rest


def _manual_only(cands: list[Candidate], marker: str) -> tuple[list[Candidate], list[Skipped]]:
    kept, skipped = [], []
    for cand in cands:
        name = cand.source.rsplit("/", 1)[-1]
        if marker in name or cand.placement.folder == "script":
            kept.append(cand)
        else:
            skipped.append(Skipped(cand.source, cand.kind,
                                   f"manimgonly mode packages only files named '*{marker}*' and scripts", Why.MANUAL_ONLY))
    return kept, skipped



def _split_ephemerides(cands: list[Candidate], config: Config,
                       ) -> tuple[list[Candidate], list[Skipped], dict[str, list[str]]]:
    """Keep one ephemeris per name and member; remember all sources so contents can be compared."""
    by_name: dict[str, list[str]] = defaultdict(list)
    kept, skipped = [], []
    first_of: dict[str, str] = {}
    for cand in sorted(cands, key=lambda c: c.order):
        if cand.kind is Kind.FILE and is_ephemeris(cand.placement.name, cand.placement.folder, config):
            name = cand.placement.name
            by_name[name].append(cand.source)
            if name in first_of:
                reason = f"same ephemeris name as {first_of[name]} (contents compared before writing)"
                skipped.append(Skipped(cand.source, cand.kind, reason, Why.SAME_EPHEMERIS))
                continue
            first_of[name] = cand.source
        kept.append(cand)
    return kept, skipped, by_name


def draft_plan(scan_tree: Folder, origpath: Path, packname: str, options: PackageOptions,
               state: PackageState = EMPTY_STATE, externals: ExternalFiles = NO_EXTERNALS,
               link_notes: Sequence[Skipped] = ()) -> Draft:
    """Place everything found in origpath; raise on bad input before anything is written."""
    config = options.config
    tree = _absorb_named_folders(scan_tree, config.qa2_others)
    pipeline = options.style.pipeline
    # A pipeline style works on a staged package: its member folders are the members.
    members = staged_members(tree, _kept_folders(config)) if pipeline else []
    members = members or find_members(tree)
    rules = Rules(config, options.include_ms, options.include_asdm, asdm_names(tree), pipeline)
    folders, new_dirs = member_folders(members, options, state)
    assert len(folders) == len(members)
    skipped: list[Skipped] = list(link_notes) + _outside(tree, members)
    findings: list[Finding] = []
    drafts: list[DraftMember] = []
    all_ephemerides: dict[str, list[str]] = defaultdict(list)
    taken_existing = {PurePosixPath(path) for path, _, _ in state.listing}
    for member, (folder, joins) in zip(members, folders):
        cands, member_skips = _candidates(member, rules)
        skipped += member_skips
        cands, link_skips = _dedupe_links(cands)
        skipped += link_skips
        if options.mode is Mode.MANIMGONLY:
            cands, manual_skips = _manual_only(cands, config.manual_marker)
            skipped += manual_skips
        if externals.pi_script is not None:
            replaced = [c for c in cands if c.placement.folder == "script" and c.placement.name == "scriptForPI.py"]
            for cand in replaced:
                skipped.append(Skipped(cand.source, cand.kind, "replaced by the --pi-script file", Why.REPLACED))
            cands = [c for c in cands if c not in replaced]
        cands, eph_skips, member_ephemerides = _split_ephemerides(cands, config)
        skipped += eph_skips
        for eph_name, sources in member_ephemerides.items():
            all_ephemerides[eph_name] += sources
        taken = {t for t in taken_existing if joins and t.parts[:3] == folder.parts} | {folder / README_NAME}
        actions, collisions = assign_targets(folder, cands, config, taken)
        findings += collisions
        if externals.pi_script is not None:
            actions.append(Action(folder / config.script / "scriptForPI.py", Kind.FILE, "PI script (--pi-script)",
                                  externals.pi_script.name, (("", externals.pi_script_size),),
                                  origin_root=externals.pi_script.parent))
        if options.gzip_caltables:
            actions = _gzip_caltables(actions, folder, config)
        findings += structure_checks(member, actions, options)
        actions.sort(key=lambda a: a.target.as_posix())
        drafts.append(DraftMember(folder, member.root.rel or ".", member.eb_uids,
                                  tuple(eb.rel or "." for eb in member.eb_folders), tuple(actions), joins))
    refuse_undeliverable_names(action for member in drafts for action in member.actions)
    ephemerides = tuple((n, tuple(s)) for n, s in sorted(all_ephemerides.items()) if len(s) > 1)
    return Draft(origpath, packname, options, state, externals, tuple(drafts), tuple(skipped), tuple(findings),
                 ephemerides, tuple(new_dirs))
