"""Finish a draft: content checks, READMEs, the ticket list and the size text make the final plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePosixPath

from .._version import __version__
from ..core.model import (
    Action,
    Finding,
    FindingCode,
    Kind,
    MemberPlan,
    Op,
    PackageState,
    Plan,
    flatten,
)
from ..delivery.layout import (
    README_NAME,
    package_folder,
)
from .checks import ephemeris_checks, packpath_name_check, unreadable_names
from .draft import ContentFacts, Draft, DraftMember
from .readme import DEFAULT_HEADER, readme_tree, render_readme, render_summary, split_header


def _member_entries(member: DraftMember, state: PackageState) -> list[tuple[str, bool]]:
    """Every path of the member as its README sees it (the tree cuts them to the README's depth)."""
    entries: list[tuple[str, bool]] = [((member.folder / README_NAME).as_posix(), False)]
    if member.joins_existing:
        prefix = member.folder.as_posix() + "/"
        entries += [(path, is_dir) for path, is_dir, _ in state.listing
                    if path.startswith(prefix) and path != prefix + README_NAME]
    entries += [(action.target.as_posix(), action.is_tree) for action in member.actions]
    return entries


def _header_for(member: DraftMember, draft: Draft) -> tuple[str, list[Finding]]:
    if draft.externals.readme_text is not None:
        return draft.externals.readme_text, []
    existing = dict(draft.state.readmes).get(member.folder.as_posix())
    if member.joins_existing and existing:
        return split_header(existing), []
    return DEFAULT_HEADER, [Finding(FindingCode.DEFAULT_README,
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
    findings += ephemeris_checks(draft, facts) + packpath_name_check(draft.packname)
    members = []
    ticket: list[PurePosixPath] = []
    for member in draft.members:
        header, header_findings = _header_for(member, draft)
        findings += header_findings
        products = [a for a in flatten(member.actions) if package_folder(a.target) == config.product]
        images = [facts.images[a.source] for a in products if a.source in facts.images]
        findings += [Finding(FindingCode.UNREADABLE_FITS, f"{a.target}: {facts.fits_problems[a.source]}; the README "
                             "lists it without a summary", (a.source,))
                     for a in products if a.source in facts.fits_problems]
        entries = _member_entries(member, draft.state)
        findings += unreadable_names(member.folder, entries)
        tree = readme_tree(draft.packname, entries)
        readme = render_readme(header, render_summary(images), tree)
        readme_action = Action(member.folder / README_NAME, Kind.FILE, "README: header, products and package tree",
                               op=Op.TEXT, text=readme)
        actions = (readme_action, *member.actions)
        members.append(MemberPlan(member.folder, member.source, member.eb_uids, member.eb_folders, actions, readme,
                                  member.joins_existing))
        ticket.append(readme_action.target)
        for action in member.actions:
            if package_folder(action.target) == config.qa or package_folder(action.target) == config.script:
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
