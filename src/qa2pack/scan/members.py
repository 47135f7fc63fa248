"""Find EB folders and members in a scanned tree (an SB with EB folders, several members, or one flat folder).

Pure functions over :class:`~qa2pack.core.model.Folder` trees: no disk access.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..core.errors import NoEBProductsError
from ..core.model import Folder, Kind
from ..core.naming import (
    PPR_GLOBS,
    asdm_uid,
    eb_uid_of,
    leading_uid,
    matches,
    natural_key,
    natural_sorted,
)
from ..core.record import record
from ..delivery.layout import MEMBER_LEVEL


@record
class EbFolder:
    """A folder that directly holds EB products, and the EB uids found in it."""

    rel: str
    name: str
    uids: tuple[str, ...]  # natural order

    def uid_for(self, filename: str) -> str | None:
        """Return the EB a file in this folder belongs to: the uid it starts with, or the folder's only EB.

        In a folder of several EBs (``calibrated/`` after scriptForPI.py, a folder of concatenated
        data) a file that names none of them is a combined product and belongs to no single EB.
        """
        for uid in self.uids:
            if filename.startswith(uid):
                return uid
        return self.uids[0] if len(self.uids) == 1 else None


@record
class MemberSource:
    """One member found in origpath: its root folder and its EB folders."""

    name: str
    root: Folder
    eb_folders: tuple[EbFolder, ...]
    named_uids: tuple[str, ...] = ()  # EBs known only from file names (a staged pipeline package)

    @property
    def eb_uids(self) -> tuple[str, ...]:
        """Every EB uid of the member, in natural order, without repeats."""
        return tuple(natural_sorted({uid for eb in self.eb_folders for uid in eb.uids} | set(self.named_uids)))


@record
class Context:
    """Where a folder sits inside its member, which decides how its files are named."""

    folder: Folder
    eb: EbFolder | None  # the EB folder the folder is (or is inside), if any
    qa_place: bool  # QA2 files are looked for here: SB level, EB folder, qa2 folder
    staged: tuple[str, str] | None = None  # (package folder key, path below it) inside a staged package
    staged_root: bool = False  # the member folder of a staged package itself


def asdm_names(tree: Folder) -> frozenset[str]:
    """Return the EB uids of every ASDM in the tree (their folder names)."""
    return frozenset([asdm_uid(u.name) for f in tree.walk() for u in f.units if u.kind is Kind.ASDM]
                     + [asdm_uid(name) for f in tree.walk() for name in f.asdm_links])


def eb_uids_in(folder: Folder, asdms: Iterable[str]) -> tuple[str, ...]:
    """Return the EB uids of the EB products directly inside ``folder``."""
    asdms = tuple(asdms)
    uids: set[str] = {asdm_uid(name) for name in folder.asdm_links}
    for unit in folder.units:
        if unit.kind is Kind.ASDM:
            uids.add(asdm_uid(unit.name))
        elif unit.kind in (Kind.MS, Kind.CALTABLE):
            uid = eb_uid_of(unit.name, asdms)
            if uid:
                uids.add(uid)
    return tuple(natural_sorted(uids))


def find_eb_folders(tree: Folder) -> dict[str, EbFolder]:
    """Return every EB folder of the tree by its origpath-relative path."""
    asdms = asdm_names(tree)
    found = {}
    for folder in tree.walk():
        if folder.real_rel is not None:
            continue  # reached through a followed link: the real folder is walked too
        uids = eb_uids_in(folder, asdms)
        if uids:
            found[folder.rel] = EbFolder(folder.rel, folder.name, uids)
    return found


def _inside(rel: str, parent: str) -> bool:
    return parent == "" or rel == parent or rel.startswith(parent + "/")


def find_members(tree: Folder) -> list[MemberSource]:
    """Split the tree into members, in natural order of their folder names.

    1. origpath is an EB folder: one member.  2. All EB folders are direct children of
    origpath, or all sit below one child: one member rooted at origpath.  3. Otherwise each
    direct child holding EB folders is a member.
    """
    eb_folders = find_eb_folders(tree)
    if not eb_folders:
        raise NoEBProductsError(
            f"no ASDM products found in {tree.name}: no ASDM, and no MS or calibration table "
            "named after an EB uid (uid___...)"
        )
    children = [c for c in tree.folders if any(_inside(rel, c.rel) for rel in eb_folders)]
    all_direct = all("/" not in rel for rel in eb_folders)
    if "" in eb_folders or len(children) <= 1 or all_direct:
        return [MemberSource(tree.name, tree, tuple(eb_folders[r] for r in _ordered(eb_folders)))]
    members = []
    for child in sorted(children, key=lambda c: (natural_key(c.name), c.name)):
        inside = [r for r in _ordered(eb_folders) if _inside(r, child.rel)]
        members.append(MemberSource(child.name, child, tuple(eb_folders[r] for r in inside)))
    return members


def _ordered(rels: Iterable[str]) -> list[str]:
    return sorted(rels, key=lambda r: (natural_key(r), r))


def folder_contexts(member: MemberSource, qa2_folders: Iterable[str],
                    kept_folders: Mapping[str, str] | None = None) -> Iterator[Context]:
    """Yield the context of every folder of a member, parents first.

    ``kept_folders`` (pipeline styles) maps package folder names to their keys: inside a staged
    member (:func:`is_staged_member`) such a folder keeps its content where it is.
    """
    qa2_names = frozenset(qa2_folders)
    kept = kept_folders or {}
    by_rel = {eb.rel: eb for eb in member.eb_folders}
    # The SB level: the member root and every folder on the way down to an EB folder.
    sb_level = {member.root.rel}
    for rel in by_rel:
        parts = rel.split("/")
        for depth in range(len(parts)):
            prefix = "/".join(parts[:depth])
            if _inside(prefix, member.root.rel):
                sb_level.add(prefix)

    def visit(folder: Folder, eb: EbFolder | None, staged: tuple[str, str] | None) -> Iterator[Context]:
        eb = by_rel.get(folder.rel, eb)
        is_eb_folder = eb is not None and eb.rel == folder.rel
        qa_place = is_eb_folder or folder.name in qa2_names or (eb is None and folder.rel in sb_level)
        staged_member = bool(kept) and staged is None and is_staged_member(folder, kept)
        yield Context(folder, eb, qa_place, staged, staged_member)
        for child in folder.folders:
            if staged is not None:
                child_staged: tuple[str, str] | None = (staged[0], f"{staged[1]}/{child.name}".lstrip("/"))
            elif staged_member and child.name in kept:
                child_staged = (kept[child.name], "")
            else:
                child_staged = None
            yield from visit(child, eb, child_staged)

    yield from visit(member.root, None, None)


def is_staged_member(folder: Folder, kept_folders: Mapping[str, str]) -> bool:
    """Tell a staged package's member folder: a level name, or a script/ holding a PPR."""
    if MEMBER_LEVEL.holds(folder.name):
        return True
    script = next((f for f in folder.folders if kept_folders.get(f.name) == "script"), None)
    return script is not None and any(matches(e.name, PPR_GLOBS) for e in script.files)


def staged_members(tree: Folder, kept_folders: Mapping[str, str]) -> list[MemberSource]:
    """Return the member folders of a staged pipeline package (pipeline styles).

    Their EB folders are those inside them (``calibrated/`` once scriptForPI.py ran); EB uids
    are also read from the staged file names, so a package nobody restored yet still works.
    """
    found = [f for f in tree.walk() if is_staged_member(f, kept_folders)]
    eb_folders = find_eb_folders(tree)
    members = []
    for folder in sorted(found, key=lambda f: (natural_key(f.rel), f.rel)):
        inside = tuple(eb_folders[r] for r in _ordered(eb_folders) if _inside(r, folder.rel))
        uids = set()
        for sub in folder.walk():
            for entry in sub.files:  # <eb>.ms.flagversions.tgz, <eb>.ms.calapply.txt, <eb>_flagtemplate.txt
                uid = leading_uid(entry.name)
                if uid and (".ms." in entry.name or "flagtemplate" in entry.name):
                    uids.add(uid)
        members.append(MemberSource(folder.name, folder, inside, tuple(natural_sorted(uids))))
    return members
