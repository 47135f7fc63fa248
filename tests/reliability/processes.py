"""What the reliability tests share: a tree to package, real qa2pack processes, and checksums of it all."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from factories import eb
from qa2pack.analyst.casatables import TableTemplates, build_tree

PROJECT = "2013.1.00001.S"
MOUS = "uid://A001/X70/X1"
EBS = 4
BIG = 2  # files of a few MB, so that copies and tars take time to be interrupted in


def make_origin(root: Path, templates: TableTemplates) -> Path:
    """An SB of four EBs (about 1,700 files) and a few larger FITS files: SB/ below ``root``."""
    layout: dict[str, str] = {}
    for n in range(EBS):
        layout.update(eb(f"SB/X{n}", f"uid___A002_X70_X{n}"))
    layout["SB/cont.fits"] = "@fits"
    origin = build_tree(root, layout, templates) / "SB"
    for n in range(BIG):
        (origin / f"big{n}.fits").write_bytes(os.urandom(1 << 20) * 4)
    return origin


def checksums(root: Path, follow_links: bool = True) -> dict[str, str]:
    """Every file below ``root`` by its md5 (read through links: what a user finds there)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() if follow_links else (path.is_file() and not path.is_symlink()):
            found[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324
        elif path.is_symlink() and not path.exists():
            found[path.relative_to(root).as_posix()] = "DANGLING"
    return found


def contents(root: Path) -> list[str]:
    """The md5s of every file below a folder, as a sorted list (where each is does not matter)."""
    return sorted(hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*")  # noqa: S324
                  if p.is_file() and not p.is_symlink())


def qa2pack(args: Sequence[str], **kwargs: object) -> subprocess.Popen[str]:
    """Start a real qa2pack process."""
    return subprocess.Popen([sys.executable, "-m", "qa2pack", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]


@dataclass
class Finished:
    code: int
    stdout: str
    stderr: str


def run(args: Sequence[str]) -> Finished:
    """Run qa2pack to its end."""
    process = qa2pack(args)
    out, err = process.communicate(timeout=300)
    return Finished(process.returncode, out, err)


def killed_after(args: Sequence[str], seconds: float) -> Finished:
    """Start qa2pack and SIGKILL it after ``seconds`` (or let it finish if it is quicker)."""
    process = qa2pack(args)
    time.sleep(seconds)
    process.kill()
    out, err = process.communicate(timeout=60)
    return Finished(process.returncode, out, err)


def timed(args: Sequence[str]) -> float:
    begin = time.monotonic()
    finished = run(args)
    assert finished.code == 0, finished.stderr
    return time.monotonic() - begin


def fresh_copy(source: Path, target: Path) -> Path:
    """A fresh origin for a run that changes it (move): new folders and names, the files hard-linked.

    ``move`` renames names and leaves links at the origin; it never writes into a file, so the
    files themselves may be shared with the source (and the copy takes no time).
    """
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, symlinks=True, copy_function=os.link)
    return target
