"""Build the plan: every source, its destination, its action and every warning (pure).

Planning has two steps so that the few file contents the plan depends on are read only for
what is actually packaged: :func:`draft_plan` places everything; the caller reads the
ephemerides, calibration scripts and FITS headers the draft names (:class:`ContentFacts`);
:func:`complete_plan` runs the content checks and renders the READMEs and the size text.
"""

from __future__ import annotations

import fnmatch
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ._version import __version__
from .config import Config
from .errors import EphemerisConflictError, InputError, PackpathError, UsageError
from .ingest import unreadable_name
from .layout import GROUP_LEVEL, LEVELS, MEMBER_LEVEL, README_NAME, SG_LEVEL, in_readme, is_auxiliary, level_folders
from .members import Context, MemberSource, asdm_names, find_members, folder_contexts, staged_members
from .model import (
    Action,
    Append,
    Finding,
    Folder,
    Kind,
    MemberPlan,
    Mode,
    Op,
    PackageState,
    Plan,
    Skipped,
    Unit,
)
from .naming import leading_uid, matches, natural_key
from .options import PackageOptions
from .placement import Placement, Rules, place_file, place_unit
from .readme import DEFAULT_HEADER, ImageSummary, parse_tree, readme_tree, render_readme, render_summary, split_header


@dataclass(frozen=True, slots=True)
class Candidate:
    """A packaged source before its final target is known."""

    source: str
    kind: Kind
    placement: Placement
    files: tuple[tuple[str, int], ...]
    dirs: tuple[str, ...] = ()
    link_target: str | None = None

    @property
    def order(self) -> tuple[int, tuple[tuple[int, int | str], ...], str]:
        """Shallower sources win a name; ties go by natural path order (input order never matters)."""
        return (self.source.count("/"), natural_key(self.source), self.source)


@dataclass(frozen=True, slots=True)
class ExternalFiles:
    """Inputs that live outside origpath: the README header and the PI script."""

    readme_text: str | None = None
    pi_script: Path | None = None
    pi_script_size: int = 0


@dataclass(frozen=True, slots=True)
class ContentFacts:
    """The few file contents the plan depends on, read by the caller between the two steps."""

    eph_digests: dict[str, str] = field(default_factory=dict)  # source -> md5
    fixplanets_scripts: frozenset[str] = frozenset()  # sources of calibration scripts naming fixplanets
    images: dict[str, ImageSummary] = field(default_factory=dict)  # source -> summary


@dataclass(frozen=True, slots=True)
class DraftMember:
    """A member with its actions placed but no README yet."""

    folder: PurePosixPath
    source: str
    eb_uids: tuple[str, ...]
    eb_folders: tuple[str, ...]
    actions: tuple[Action, ...]
    joins_existing: bool


@dataclass(frozen=True, slots=True)
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
        return [a.source for a in self._actions() if a.source and _is_folder(a, self.options.config.script)
                and a.origin_root is None and matches(a.target.name, patterns)]

    def fits_sources(self) -> list[str]:
        """Return the sources of packaged FITS products (read for the README summary)."""
        return [a.source for a in self._actions() if a.source and a.kind is Kind.FILE
                and _is_folder(a, self.options.config.product) and a.target.name.lower().endswith(".fits")]

    def _actions(self) -> list[Action]:
        return [a for m in self.members for a in _flatten(m.actions)]


def _flatten(actions: Iterable[Action]) -> list[Action]:
    out: list[Action] = []
    for action in actions:
        out.extend(action.parts if action.op is Op.ARCHIVE else (action,))
    return out


def _package_folder(target: PurePosixPath) -> str:
    """Return the package folder (``calibration``, ``qa``, ...) of a target: sg/group/member/<folder>/..."""
    parts = target.parts
    return parts[3] if len(parts) > 4 else ""


def _is_folder(action: Action, folder: str) -> bool:
    return _package_folder(action.target) == folder


EMPTY_STATE = PackageState()
NO_EXTERNALS = ExternalFiles()


# -- level folders -------------------------------------------------------------------------


def _staged_uid_folders(members: Sequence[MemberSource]) -> list[PurePosixPath] | None:
    """Return the level folders of a staged package named by real uids (None if any member has placeholders).

    A pipeline run staged with its real uids keeps them through ``package``: the archive names
    the tars after the member uid, and a placeholder would lose it.
    """
    paths = []
    for member in members:
        parts = member.root.rel.split("/")[-3:]
        if len(parts) != 3 or not all(LEVELS[n].has_uid(parts[n]) for n in range(3)):
            return None
        paths.append(PurePosixPath(*parts))
    return paths if len(set(paths)) == len(paths) else None


def _level_folders(members: Sequence[MemberSource], options: PackageOptions, state: PackageState,
                   ) -> tuple[list[tuple[PurePosixPath, bool]], list[PurePosixPath]]:
    """Return each member's folder (and whether it joins an existing one) and the new level folders."""
    append = options.append
    count = len(members)
    uids = options.ous_uids
    if uids is None and options.style.pipeline and append is Append.REPLACE:
        staged = _staged_uid_folders(members)
        if staged is not None:
            sgs = sorted({PurePosixPath(p.parts[0]) for p in staged})
            return [(p, False) for p in staged], sgs
    if uids is not None:
        if count != 1:
            raise UsageError(f"--ous-uids names one member, but origpath holds {count} members")
        sg, group, member = level_folders(uids)
        if append is not Append.REPLACE and state.sg not in (None, sg):
            raise PackpathError(f"packpath holds science goal {state.sg}, not {sg}")
        exists = member in state.members_of(group)
        if exists and append in (Append.GROUP, Append.MEMBER):
            raise PackpathError(f"{sg}/{group}/{member} exists already; use --append product to add to it")
        joins = exists and append is Append.PRODUCT
        if append is Append.REPLACE:
            new = [PurePosixPath(sg)]
        elif joins:
            new = []
        elif not state.members_of(group):
            new = [PurePosixPath(sg, group)]
        else:
            new = [PurePosixPath(sg, group, member)]
        return [(PurePosixPath(sg, group, member), joins)], new
    if append is Append.REPLACE:
        sg, group = SG_LEVEL.placeholder, GROUP_LEVEL.placeholder
        return [(PurePosixPath(sg, group, MEMBER_LEVEL.name(n)), False) for n in range(1, count + 1)], \
            [PurePosixPath(sg)]
    assert state.sg is not None
    group_names = [g for g, _ in state.groups]
    if append is Append.GROUP:
        group = GROUP_LEVEL.name(GROUP_LEVEL.next_number(group_names))
        return [(PurePosixPath(state.sg, group, MEMBER_LEVEL.name(n)), False) for n in range(1, count + 1)], \
            [PurePosixPath(state.sg, group)]
    highest_group = GROUP_LEVEL.highest(group_names)
    if highest_group is None:
        raise PackpathError(f"--append {append.value} needs a group in packpath; it holds none")
    group = highest_group
    existing = state.members_of(group)
    start = MEMBER_LEVEL.next_number(existing)
    names: list[tuple[str, bool]] = []
    if append is Append.PRODUCT:
        highest = MEMBER_LEVEL.highest(existing)
        if highest is None:
            raise PackpathError(f"--append product needs a member in {state.sg}/{group}; it holds none")
        names.append((highest, True))
    while len(names) < count:
        names.append((MEMBER_LEVEL.name(start), False))
        start += 1
    folders = [(PurePosixPath(state.sg, group, name), joins) for name, joins in names]
    return folders, [folder for folder, joins in folders if not joins]


def check_packpath_state(state: PackageState, append: Append, packpath: Path) -> None:
    """Refuse to replace what is not a qa2pack package, or to append where there is none."""
    if state.exists and not state.is_dir:
        raise PackpathError(f"packpath {packpath} exists and is not a folder")
    if append is Append.REPLACE:
        foreign = [e for e in state.entries if not _is_package_entry(e)]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise PackpathError(
                f"packpath {packpath} is not empty and is not a qa2pack package (it holds {shown}); "
                "nothing was removed: choose another packpath or empty it yourself"
            )
        return
    if state.sg is None or not state.groups:
        raise PackpathError(
            f"--append {append.value}: packpath {packpath} holds no package; run once without --append first"
        )


def _is_package_entry(name: str) -> bool:
    return name.startswith(".qa2pack-") or SG_LEVEL.holds(name)


# -- the draft -------------------------------------------------------------------------------


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
        if isinstance(where, str):
            skipped.append(Skipped(unit.rel, unit.kind, where))
        else:
            cands.append(Candidate(unit.rel, unit.kind, where, unit.files, unit.dirs, unit.real_rel))
    for entry in ctx.folder.files:
        rel = f"{ctx.folder.rel}/{entry.name}" if ctx.folder.rel else entry.name
        where = place_file(entry.name, ctx, rules)
        if isinstance(where, str):
            skipped.append(Skipped(rel, Kind.FILE, where))
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
            out.append(Skipped(folder.rel, Kind.FOLDER, reason))
            return
        prefix = f"{folder.rel}/" if folder.rel else ""
        out.extend(Skipped(prefix + f.name, Kind.FILE, reason) for f in folder.files)
        out.extend(Skipped(u.rel, u.kind, reason) for u in folder.units)
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
            skipped.append(Skipped(cand.source, Kind.LINK, f"link to {target}, which is packaged already"))
        elif target in seen_targets:
            skipped.append(Skipped(cand.source, Kind.LINK, f"link to {target}, packaged already through "
                                                            f"{seen_targets[target]}"))
        else:
            seen_targets[target] = cand.source
            kept.append(cand)
    return kept, skipped


def _assign_targets(member_folder: PurePosixPath, cands: list[Candidate], config: Config,
                    taken: set[PurePosixPath]) -> tuple[list[Action], list[Finding]]:
    """Give every candidate a unique target; a later one that collides gets its prefix."""
    actions: list[Action] = []
    findings: list[Finding] = []
    owner: dict[PurePosixPath, str] = {t: "a file already in the package" for t in taken}
    for cand in sorted(cands, key=lambda c: c.order):
        place = cand.placement
        base = member_folder / config.folder(place.folder)
        if place.sub:
            base = base / place.sub
        target = base / place.name
        if target in owner:
            first = owner[target]
            renamed = base / f"{place.collision_prefix}{place.name}"
            number = 2
            while renamed in owner:
                renamed = base / f"{place.collision_prefix}{number}__{place.name}"
                number += 1
            findings.append(Finding(
                "name-collision",
                f"{first} and {cand.source} would both be {target.relative_to(member_folder)}; "
                f"both kept, the second as {renamed.name}",
                (first, cand.source),
            ))
            target = renamed
        owner[target] = cand.source
        actions.append(Action(target, cand.kind, place.rule, cand.source, cand.files, cand.dirs, place.eb_uid,
                              link_target=cand.link_target))
    return actions, findings


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
                                   f"manimgonly mode packages only files named '*{marker}*' and scripts"))
    return kept, skipped


def _is_ephemeris(name: str, folder: str, config: Config) -> bool:
    return folder == "calibrated" and matches(name, config.ephemeris_patterns)


def _split_ephemerides(cands: list[Candidate], config: Config,
                       ) -> tuple[list[Candidate], list[Skipped], dict[str, list[str]]]:
    """Keep one ephemeris per name and member; remember all sources so contents can be compared."""
    by_name: dict[str, list[str]] = defaultdict(list)
    kept, skipped = [], []
    first_of: dict[str, str] = {}
    for cand in sorted(cands, key=lambda c: c.order):
        if cand.kind is Kind.FILE and _is_ephemeris(cand.placement.name, cand.placement.folder, config):
            name = cand.placement.name
            by_name[name].append(cand.source)
            if name in first_of:
                skipped.append(Skipped(cand.source, cand.kind,
                                       f"same ephemeris name as {first_of[name]} (contents compared before writing)"))
                continue
            first_of[name] = cand.source
        kept.append(cand)
    return kept, skipped, by_name


def _checks(member: MemberSource, actions: list[Action], options: PackageOptions) -> list[Finding]:
    """Run the sanity checks of SPEC section 7 that need no file content."""
    if options.style.pipeline:
        return []
    cfg = options.config
    findings = []
    flat = _flatten(actions)
    caltables: dict[str, list[str]] = defaultdict(list)
    qa_names: dict[str, list[str]] = defaultdict(list)
    scripts: set[str] = set()
    logs: set[str] = set()
    for action in flat:
        folder = _package_folder(action.target)
        uid = action.eb_uid or leading_uid(action.target.name)
        if action.kind is Kind.CALTABLE and action.eb_uid:
            caltables[action.eb_uid].append(action.target.name)
        elif folder == cfg.qa and uid:
            qa_names[uid].append(action.target.name)
        elif folder == cfg.script and uid:
            scripts.add(uid)
        elif folder == cfg.log and uid:
            logs.add(uid)
    for uid in member.eb_uids:
        for required in cfg.required_caltables:
            if not any(name.startswith(uid) and fnmatch.fnmatchcase(name[len(uid):], required)
                       for name in caltables[uid]):  # uids hold no glob characters
                findings.append(Finding("missing-caltable", f"EB {uid}: no calibration table {uid}{required}", (uid,)))
        for required in cfg.required_qa2:
            if not any(name.endswith(required) for name in qa_names[uid]):
                findings.append(Finding("missing-qa2", f"EB {uid}: no QA2 file *{required}", (uid,)))
        if uid not in scripts:
            findings.append(Finding("eb-without-script", f"EB {uid}: no script found for it", (uid,)))
        if uid not in logs:
            findings.append(Finding("eb-without-log", f"EB {uid}: no log found for it", (uid,)))
    if not any(_is_folder(a, cfg.product) for a in flat):
        findings.append(Finding("no-product", f"member from {member.name}: no product (FITS image or mask) found"))
    return findings


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
    folders, new_dirs = _level_folders(members, options, state)
    skipped: list[Skipped] = list(link_notes) + _outside(tree, members)
    findings: list[Finding] = []
    drafts: list[DraftMember] = []
    all_ephemerides: dict[str, list[str]] = defaultdict(list)
    taken_existing = {PurePosixPath(path) for path, _, _ in state.listing}
    for member, (folder, joins) in zip(members, folders, strict=True):
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
                skipped.append(Skipped(cand.source, cand.kind, "replaced by the --pi-script file"))
            cands = [c for c in cands if c not in replaced]
        cands, eph_skips, member_ephemerides = _split_ephemerides(cands, config)
        skipped += eph_skips
        for eph_name, sources in member_ephemerides.items():
            all_ephemerides[eph_name] += sources
        taken = {t for t in taken_existing if joins and t.parts[:3] == folder.parts} | {folder / README_NAME}
        actions, collisions = _assign_targets(folder, cands, config, taken)
        findings += collisions
        if externals.pi_script is not None:
            actions.append(Action(folder / config.script / "scriptForPI.py", Kind.FILE, "PI script (--pi-script)",
                                  externals.pi_script.name, (("", externals.pi_script_size),),
                                  origin_root=externals.pi_script.parent))
        if options.gzip_caltables:
            actions = _gzip_caltables(actions, folder, config)
        findings += _checks(member, actions, options)
        actions.sort(key=lambda a: a.target.as_posix())
        drafts.append(DraftMember(folder, member.root.rel or ".", member.eb_uids,
                                  tuple(eb.rel or "." for eb in member.eb_folders), tuple(actions), joins))
    refuse_undeliverable_names(drafts)
    ephemerides = tuple((n, tuple(s)) for n, s in sorted(all_ephemerides.items()) if len(s) > 1)
    return Draft(origpath, packname, options, state, externals, tuple(drafts), tuple(skipped), tuple(findings),
                 ephemerides, tuple(new_dirs))


def _packaged_names(actions: Iterable[Action]) -> Iterator[str]:
    """Every source path a member packages (the targets are made from these names)."""
    for action in _flatten(actions):
        if action.source is None:
            continue
        yield action.source
        yield from (f"{action.source}/{inner}" for inner in action.dirs)
        yield from (f"{action.source}/{name}" for name, _ in action.files if name)


def describe_name(path: str) -> str:
    """Show a path as its bytes would read (escapes for what is not printable or not UTF-8)."""
    raw = os.fsencode(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"{str(raw)[1:]} (not UTF-8)"
    return f"{text!r} (a control or invisible character)"


def refuse_undeliverable_names(members: Sequence[DraftMember]) -> None:
    """Refuse, before anything is written, names no delivery can carry.

    A newline or another control character breaks the README, the manifest and the archive's
    line-by-line reading of both; bytes that are not UTF-8 cannot be written into a README or
    a tar's UTF-8 names.  Every such name is listed, so they can be renamed in one go.
    """
    names = [name for member in members for name in _packaged_names(member.actions)]
    if "/".join(names).isprintable():  # the common case: one pass over all names
        return
    bad = sorted({name for name in names if not name.isprintable()})
    shown = "; ".join(describe_name(name) for name in bad[:10]) + (f"; and {len(bad) - 10} more" if len(bad) > 10
                                                                    else "")
    raise InputError(f"{len(bad)} name(s) cannot be delivered (the README, the manifest and the archive cannot carry "
                     f"them): {shown}; rename them and run again", [describe_name(name) for name in bad])


# -- a staged package after scriptForPI.py -----------------------------------------------------

# scriptForPI.py's pipeline restore works in calibrated/working and calibrated/rawdata: what it
# leaves there (extracted caltables, imported MSs, logs) comes from the delivery itself.
RESTORE_AREAS = ("working", "rawdata")
RESTORE_AREA_REASON = "the work area of scriptForPI.py's pipeline restore (its products are delivered already)"
RESTORE_ADDITION_REASON = ("not in the staged package (its README does not list it): scriptForPI.py's restore "
                           "added it to calibration/")


def apply_staged_readmes(draft: Draft, readmes: Mapping[str, str]) -> Draft:
    """Keep a staged package's README header, and leave out what restoring it added (pipeline styles).

    ``readmes`` maps the origpath-relative path of each staged member's README to its text.  The
    README's tree is the record of what the staged package held: a file in the member's
    ``calibration/`` that it does not list was added there by scriptForPI.py (the pipeline manifest
    it copies, the auxiliary products it unpacks) and is reported, not delivered twice.
    """
    externals = draft.externals
    if externals.readme_text is None and readmes:
        externals = replace(externals, readme_text=split_header(next(iter(readmes.values()))))
    listings: dict[str, set[str]] = {}
    for source, text in readmes.items():
        parsed = parse_tree(text)
        if parsed is not None:
            listings[source.rpartition("/")[0]] = {p.split("/", 3)[3] for p in parsed[1] if p.count("/") >= 3}
    calibration, calibrated = draft.options.config.calibration, draft.options.config.calibrated
    members = []
    skipped = list(draft.skipped)
    for member in draft.members:
        root = "" if member.source == "." else member.source
        listing = listings.get(root)
        kept = []
        areas: set[str] = set()
        for action in member.actions:
            inner = (action.source or "")[len(root) + 1 if root else 0:] if action.origin_root is None else ""
            area = next((a for a in RESTORE_AREAS if inner.startswith(f"{calibrated}/{a}/")), None)
            if area is not None:
                areas.add(f"{root}/{calibrated}/{area}".lstrip("/"))
            elif (listing is not None and inner.startswith(f"{calibration}/") and inner not in listing
                  and not is_auxiliary(inner.rsplit("/", 1)[-1])):  # the README leaves those out on purpose
                skipped.append(Skipped(action.source or "", action.kind, RESTORE_ADDITION_REASON))
            else:
                kept.append(action)
        skipped += [Skipped(area, Kind.FOLDER, RESTORE_AREA_REASON) for area in sorted(areas)]
        members.append(replace(member, actions=tuple(kept)))
    return replace(draft, externals=externals, members=tuple(members), skipped=tuple(skipped))


# -- completing ------------------------------------------------------------------------------


def _ephemeris_checks(draft: Draft, facts: ContentFacts) -> list[Finding]:
    for name, sources in draft.ephemerides:
        digests = {src: facts.eph_digests.get(src) for src in sources}
        first = sources[0]
        for other in sources[1:]:
            if digests[other] != digests[first]:
                raise EphemerisConflictError(name, draft.origpath / first, draft.origpath / other)
    config = draft.options.config
    has_eph = any(a.kind is Kind.FILE and _is_ephemeris(a.target.name, _package_folder(a.target), config)
                  for m in draft.members for a in _flatten(m.actions))
    if facts.fixplanets_scripts and not has_eph:
        listed = sorted(facts.fixplanets_scripts)
        return [Finding("fixplanets-without-eph",
                        f"fixplanets is called in {', '.join(listed)} but no ephemeris (*.eph) was found; "
                        "fine if fixplanets only fixes positions", tuple(listed))]
    if has_eph and not facts.fixplanets_scripts:
        return [Finding("eph-without-fixplanets",
                        "ephemeris files (*.eph) found but no calibration script calls fixplanets: "
                        "a fixplanets call may be missing, or the ephemerides are superfluous")]
    return []


def _member_entries(member: DraftMember, state: PackageState) -> list[tuple[str, bool]]:
    """Every path of the member as its README sees it (the tree cuts them to the README's depth)."""
    entries: list[tuple[str, bool]] = [((member.folder / README_NAME).as_posix(), False)]
    if member.joins_existing:
        prefix = member.folder.as_posix() + "/"
        entries += [(path, is_dir) for path, is_dir, _ in state.listing
                    if path.startswith(prefix) and path != prefix + README_NAME]
    entries += [(action.target.as_posix(), action.is_tree) for action in member.actions]
    return entries


def _unreadable_names(folder: PurePosixPath, entries: Sequence[tuple[str, bool]]) -> list[Finding]:
    """Warn about README lines the archive's ingest would read as another name (and refuse the tar)."""
    listed = sorted({path for path, _ in entries if in_readme(path) and unreadable_name(path.rsplit("/", 1)[-1])})
    if not listed:
        return []
    names = ", ".join(repr(p.rsplit("/", 1)[-1]) for p in listed[:5]) + (" ..." if len(listed) > 5 else "")
    return [Finding("archive-unreadable-name",
                    f"{folder}/README lists {names}: the archive's ingest reads README lines without their spaces, "
                    "non-ASCII characters, '|', '`' and '--', cannot find such a name in the tar and refuses it; "
                    "rename them before delivery", tuple(listed))]


def _header_for(member: DraftMember, draft: Draft) -> tuple[str, list[Finding]]:
    if draft.externals.readme_text is not None:
        return draft.externals.readme_text, []
    existing = dict(draft.state.readmes).get(member.folder.as_posix())
    if member.joins_existing and existing:
        return split_header(existing), []
    return DEFAULT_HEADER, [Finding("default-readme",
                                    f"{member.folder}/README: no --readme header given; "
                                    "the default template with empty fields is used")]


def _size_text(draft: Draft, members: Sequence[MemberPlan]) -> str:
    mode = draft.options.mode.value
    lines = [f"# Expected size of the package {draft.packname} (qa2pack {__version__}, mode {mode})",
             "# bytes  files  folder (relative to the package)"]
    per_folder: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    estimated = False
    for member in members:
        for action in member.actions:
            parts = action.target.parts
            folder = "/".join(parts[:4] if len(parts) > 4 else parts[:-1])  # README: its member folder
            count = len(action.files) if action.op is Op.TRANSFER else 1
            estimated |= action.op is Op.ARCHIVE
            per_folder[folder][0] += action.size
            per_folder[folder][1] += count
    touched = {m.folder.as_posix() for m in members}
    existing = [(f, s) for f, s in draft.state.member_sizes if f not in touched]
    total = sum(size for size, _ in per_folder.values()) + sum(s for _, s in existing)
    files = sum(count for _, count in per_folder.values())
    lines.append(f"{total}  {files}  (total{', existing members included' if existing else ''})")
    for folder in sorted(per_folder):
        size, count = per_folder[folder]
        lines.append(f"{size}  {count}  {folder}")
    for folder, size in existing:
        lines.append(f"{size}  -  {folder} (already in the package)")
    if estimated:
        lines.append("# .calibration.tgz archives are counted uncompressed (their size is at most this)")
    return "\n".join(lines) + "\n"


def complete_plan(draft: Draft, facts: ContentFacts | None = None) -> Plan:
    """Run the content checks and render READMEs and the size text: the plan is final."""
    config = draft.options.config
    findings = list(draft.findings)
    facts = facts or ContentFacts()
    findings += _ephemeris_checks(draft, facts)
    members = []
    ticket: list[PurePosixPath] = []
    for member in draft.members:
        header, header_findings = _header_for(member, draft)
        findings += header_findings
        images = [facts.images[a.source] for a in _flatten(member.actions)
                  if a.source in facts.images and _is_folder(a, config.product)]
        entries = _member_entries(member, draft.state)
        findings += _unreadable_names(member.folder, entries)
        tree = readme_tree(draft.packname, entries)
        readme = render_readme(header, render_summary(images), tree)
        readme_action = Action(member.folder / README_NAME, Kind.FILE, "README: header, products and package tree",
                               op=Op.TEXT, text=readme)
        actions = (readme_action, *member.actions)
        members.append(MemberPlan(member.folder, member.source, member.eb_uids, member.eb_folders, actions, readme,
                                  member.joins_existing))
        ticket.append(readme_action.target)
        for action in member.actions:
            if _is_folder(action, config.qa) or _is_folder(action, config.script):
                ticket += [action.target / f if f else action.target for f, _ in action.files]
        if member.joins_existing:
            prefix = member.folder.as_posix()
            ticket += [PurePosixPath(p) for p, is_dir, _ in draft.state.listing if not is_dir and
                       (p.startswith(f"{prefix}/{config.qa}/") or p.startswith(f"{prefix}/{config.script}/"))]
    size_text = _size_text(draft, members)
    return Plan(
        origpath=draft.origpath,
        packname=draft.packname,
        mode=draft.options.mode,
        append=draft.options.append,
        style=draft.options.style,
        members=tuple(members),
        skipped=tuple(sorted(draft.skipped, key=lambda s: s.source)),
        findings=tuple(findings),
        size_text=size_text,
        ticket=tuple(sorted(set(ticket))),
        new_dirs=draft.new_dirs,
        ephemerides=draft.ephemerides,
        gzip_caltables=draft.options.gzip_caltables,
        checksums=draft.options.checksums,
        owner_samples=draft.owner_samples,
    )

