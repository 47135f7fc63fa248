"""Make interrupted runs visible and reversible.

A run first creates ``packpath/.qa2pack-incomplete`` (the *marker*, a JSON-lines journal of
what the run created) and removes it last, so a package that still has the marker is never
mistaken for a complete one.  ``move`` mode also appends ``src -> dst`` to the *moves file*
beside packpath, flushed and synced before each rename; it stays after the run, because
the package then holds the only copy of the moved data and replacing the package must first
move that data back.  The next run rolls an interrupted one back with :func:`roll_back`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from ..core.record import field, record
from ..delivery.layout import MARKER
from ..formats.atomic import write_atomic
from ..formats.fields import escape_field, unescape_field
from .progress import counted

log = logging.getLogger(__name__)



def moves_path(packpath: Path) -> Path:
    """Return the moves file of a package (beside it, named after it)."""
    return packpath.parent / f"{packpath.name}.qa2pack-moves.tsv"


def packages_moved_into(links: Iterable[str]) -> dict[Path, int]:
    """Count, per package, the links that point into a package ``move`` mode filled (it has a moves file).

    ``links`` are the real paths the links of origpath point to; after ``package --mode move`` the
    origin holds links into the package, and the next run should say where the data went.
    """
    packages: dict[Path, Path | None] = {}  # folder -> the moved package it lies in, if any
    counts: dict[Path, int] = {}
    for link in links:
        found = None
        for folder in Path(link).parents:
            if folder not in packages:
                packages[folder] = folder if moves_path(folder).is_file() else None
            found = packages[folder]
            if found is not None:
                break
        if found is not None:
            counts[found] = counts.get(found, 0) + 1
    return counts


class Journal:
    """The marker file of one run: a header, then one JSON object per event."""

    def __init__(self, packpath: Path, header: dict[str, Any]) -> None:
        self.path = packpath / MARKER
        self._handle: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in finish()
        self._lock = threading.Lock()  # transfer threads record too (shared empty files in fake mode)
        self._write({"op": "start", **header})
        self._moves: IO[str] | None = None
        self.packpath = packpath

    def _write(self, record: dict[str, Any], sync: bool = False) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self._handle.write(line)
            self._handle.flush()
            if sync:
                os.fsync(self._handle.fileno())

    def created(self, rel: str) -> None:
        """Record a package path this run created (rolled back by removal)."""
        self._write({"op": "created", "path": rel})

    def replaced_readme(self, rel: str, old_text: str) -> None:
        """Record the README text a run is about to overwrite (rolled back by restoring it)."""
        self._write({"op": "readme", "path": rel, "text": old_text}, sync=True)

    def moved(self, src: Path, dst: Path) -> None:
        """Record a rename before doing it; synced so a crash cannot lose the record."""
        if self._moves is None:
            self._moves = open(moves_path(self.packpath), "a", encoding="utf-8")  # noqa: SIM115
        self._moves.write(f"{escape_field(str(src))}\t{escape_field(str(dst))}\n")
        self._moves.flush()
        os.fsync(self._moves.fileno())

    def finish(self) -> None:
        """Close the journal and remove the marker: the package is complete."""
        self.close()
        self.path.unlink()

    def close(self) -> None:
        """Close the files but leave the marker (the run did not complete)."""
        self._handle.close()
        if self._moves is not None:
            self._moves.close()
            self._moves = None


def moves_count(packpath: Path) -> int:
    """Return how many moves the moves file records (a run remembers where its own begin)."""
    path = moves_path(packpath)
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def undo_moves(packpath: Path, start: int = 0) -> int:
    """Move files back to their origin (newest first) from record ``start`` on; return how many.

    A record is undone only when the package file exists and the origin is the link this tool
    left (or nothing, if the run stopped between the rename and the link), so running it twice
    is harmless and a file the user changed at the origin is never overwritten.
    """
    path = moves_path(packpath)
    if not path.exists():
        return 0
    with open(path, encoding="utf-8") as handle:
        records = [line.rstrip("\n").split("\t") for line in handle][start:]
    undone = 0
    for src_text, dst_text in reversed(records):
        src, dst = Path(unescape_field(src_text)), Path(unescape_field(dst_text))
        if not dst.is_file() or dst.is_symlink():
            continue
        if src.is_symlink() and os.readlink(src) == str(dst):
            src.unlink()
        elif os.path.lexists(src):
            log.warning("not moving %s back: %s exists and is not the link qa2pack left", dst, src)
            continue
        os.rename(dst, src)
        undone += 1
    _truncate(path, start)
    return undone


def _truncate(path: Path, keep: int) -> None:
    if keep == 0:
        path.unlink()
        return
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()[:keep]
    write_atomic(path, "".join(lines))


@record(frozen=False)
class _Interrupted:
    header: dict[str, Any] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    readmes: dict[str, str] = field(default_factory=dict)


def _read_marker(marker: Path) -> _Interrupted:
    state = _Interrupted()
    with open(marker, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by the interruption
            op = record.get("op")
            if op == "start" and not state.header:
                state.header = record
            elif op == "created":
                state.created.append(record["path"])
            elif op == "readme":
                state.readmes.setdefault(record["path"], record["text"])
    return state


def roll_back(packpath: Path) -> str | None:
    """Undo an interrupted run recorded in packpath's marker; return a sentence saying what was done."""
    marker = packpath / MARKER
    if not marker.exists():
        return None
    run = _read_marker(marker)
    moved_back = undo_moves(packpath, int(run.header.get("moves_start", 0)))
    if run.header.get("append", "") == "":  # the run replaced the package: everything in it was the run's
        removed = [entry for entry in sorted(os.listdir(packpath)) if entry != MARKER]
        for entry in removed:
            _remove(packpath / entry)
        undone = f"the partial package ({counted(len(removed), 'top-level folder')}) removed"
    else:
        for rel in reversed(run.created):
            _remove(packpath / rel)
        for rel, text in run.readmes.items():
            write_atomic(packpath / rel, text)
        undone = (f"{counted(len(run.created), 'folder')} it made removed, "
                  f"{counted(len(run.readmes), 'README')} restored")
    marker.unlink()
    started = run.header.get("started", "an earlier run")
    return (f"rolled back the interrupted run of {started} (mode {run.header.get('mode', '?')}): "
            f"{counted(moved_back, 'moved file')} returned to their origin, {undone}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


