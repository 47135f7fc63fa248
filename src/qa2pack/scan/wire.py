"""Scanned subtrees as plain tuples, so that a helper process can hand them over with ``marshal``."""

from __future__ import annotations

import marshal
from typing import Any, Dict, Tuple

from ..core.model import FileEntry, Folder, Kind, LinkNote, Unit

Owners = Dict[Tuple[int, int], str]
_UNIT, _FOLDER = 0, 1


def _plain(node: Folder | Unit) -> tuple[Any, ...]:
    if isinstance(node, Unit):
        return (_UNIT, node.name, node.rel, node.kind.value, node.files, node.dirs, node.table_type, node.real_rel)
    return (_FOLDER, node.name, node.rel, tuple(_plain(f) for f in node.folders), tuple(_plain(u) for u in node.units),
            tuple(tuple(f) for f in node.files), node.real_rel, node.asdm_links)


def _node(plain: tuple[Any, ...]) -> Folder | Unit:
    if plain[0] == _UNIT:
        _, name, rel, kind, files, dirs, table_type, real_rel = plain
        return Unit(name, rel, Kind(kind), files, dirs, table_type, real_rel)
    _, name, rel, folders, units, files, real_rel, asdm_links = plain
    return Folder(name, rel, tuple(_node(f) for f in folders), tuple(_node(u) for u in units),  # type: ignore[misc]
                  tuple(FileEntry(*f) for f in files), real_rel, asdm_links)


def dumps(node: Folder | Unit, notes: list[LinkNote], owners: Owners) -> bytes:
    """Return one scanned subtree, the links it did not follow and its owners' sample files as bytes."""
    return marshal.dumps((_plain(node), [tuple(note) for note in notes], list(owners.items())))


def loads(data: bytes) -> tuple[Folder | Unit, list[LinkNote], Owners]:
    """Return what :func:`dumps` was given."""
    plain, notes, owners = marshal.loads(data)  # noqa: S302 - written by this run's own helper
    return _node(plain), [LinkNote(*note) for note in notes], dict(owners)
