"""Reduction trees of the seeds, as layouts for ``qa2pack.analyst.casatables.build_tree``.

Values: ``@ms``, ``@cal`` (CASA >= 3.4 caltable), ``@calold`` (CAL_DESC caltable), ``@mask``,
``@image``, ``@flagversions``, ``@asdm``, ``@plots``, ``@png``, ``@fits``, ``@dir``,
``@link:TARGET``; anything else is the text of a file.
"""

from __future__ import annotations

import errno
import io
import os
import tarfile
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

from qa2pack.analyst.demo import SB3, SB4, eb_folder, project229_setup3, project229_setup4

__all__ = ["FIG1", "FIG2", "FIG3", "SB3", "SB4", "eb", "project229_setup3", "project229_setup4", "tree_listing"]


class Layout(Dict[str, str]):
    """A tree to build (path -> content); ``a | b`` merges two, on Python 3.8 as well."""

    def __or__(self, other: Mapping[str, str]) -> Layout:  # type: ignore[override]
        return Layout({**self, **other})

    def __ror__(self, other: Mapping[str, str]) -> Layout:  # type: ignore[override]
        return Layout({**other, **self})


def eb(folder: str, uid: str, old_style: bool = False) -> Layout:
    """A complete EB folder (ASDM, MSs, caltables, plots, qa2, checklist, one log)."""
    return Layout(eb_folder(folder, uid, old_style=old_style, logs=(f"casapy-{uid[-4:]}.log",)))


# Layout 1: one member; EB folders and a Combined folder below the member folder.
FIG1 = Layout({
    **eb("MemberA/DataA1", "uid___A002_X1111_Xa1"),
    **eb("MemberA/DataA2", "uid___A002_X1111_Xa2", old_style=True),
    "MemberA/Combined/concat.ms": "@ms",
    "MemberA/Combined/scriptForImaging.py": "# imaging\n",
    "MemberA/Combined/imaging.log": "log\n",
    "MemberA/Combined/target.cont.fits": "@fits",
    "MemberA/Combined/target.cont.mask": "@mask",
})

# Layout 2: two members (A with one EB, B with two EBs and combined products).
FIG2 = Layout({
    **eb("MemberA/DataA1", "uid___A002_X2222_Xa1"),
    "MemberA/scriptForImaging.py": "# imaging A\n",
    "MemberA/a.cont.fits": "@fits",
    **eb("MemberB/DataB1", "uid___A002_X2222_Xb1"),
    **eb("MemberB/DataB2", "uid___A002_X2222_Xb2"),
    "MemberB/Combined/concat.ms": "@ms",
    "MemberB/Combined/scriptForImaging.py": "# imaging B\n",
    "MemberB/Combined/b.cont.fits": "@fits",
})

# Layout 3: origpath itself holds the ASDM, the MSs and the products.
FIG3 = Layout({key.split("/", 1)[1]: value for key, value in eb("X", "uid___A002_X3333_X33").items()}) | {
    "scriptForImaging.py": "# imaging\n", "target.fits": "@fits"}


def tree_listing(root: Path, tmp: Path | None = None, collapse_tables: bool = False) -> list[str]:
    """A golden listing: ``d path/``, ``f path size``, ``l path -> target`` (machine independent).

    ``collapse_tables`` lists a CASA table as one ``t path/`` line (its inner files depend on the
    casacore version) and READMEs without their size (their tree lists those inner files).
    """

    def line(p: Path) -> str:
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            target = os.readlink(p)
            return f"l {rel} -> {target.replace(str(tmp), '<tmp>') if tmp else target}"
        if p.is_dir():
            return f"t {rel}/" if collapse_tables and (p / "table.dat").exists() else f"d {rel}/"
        if collapse_tables and p.name == "README":
            return f"f {rel}"
        return f"f {rel} {p.stat().st_size}"

    def inside_table(p: Path) -> bool:
        return collapse_tables and any((parent / "table.dat").exists() for parent in p.parents
                                       if parent != root and root in parent.parents)

    return [line(p) for p in sorted(root.rglob("*")) if not inside_table(p)]


TarMember = Tuple[tarfile.TarInfo, Optional[bytes]]


def write_tar(path: Path, members: list[TarMember], fmt: int = tarfile.PAX_FORMAT, mode: str = "w") -> Path:
    """Write a tar member by member, as given: hostile tars need exactly what they declare."""
    with tarfile.open(path, mode, format=fmt) as tar:  # type: ignore[call-overload]
        for member, data in members:
            if data is not None:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
            else:
                tar.addfile(member)
    return path


def refuse_first_link(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Make the next ``os.link`` fail as on a file system that allows fewer links per inode than asked."""
    real_link = os.link
    calls = {"n": 0}

    def limited(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.EMLINK, "Too many links")
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "link", limited)


COPY_MEMBER = "sg_ouss_id/group_ouss_id/member_ouss_id"  # the member of the copy_package fixture


def damage_copy_package(package: Path) -> None:
    """Change a byte of a qa plot, remove the member's ipython.log and add an extra file: verify reports each."""
    png = package / COPY_MEMBER / "qa/uid___A002_X3c9295_X8c__qa2_part1.png"
    png.write_bytes(png.read_bytes()[:-1] + b"x")
    (package / COPY_MEMBER / "log/ipython.log").unlink()
    (package / COPY_MEMBER / "qa/notes.txt").write_text("extra")
