"""JOBS files for the usual archive chores: fixity of every delivery, tarsplit of every package, restores.

Each helper walks or reads without writing and returns the command lines, with absolute paths so
the file runs the same from any folder and on any machine that mounts the data at the same place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..core.errors import InputError
from ..core.naming import natural_sorted, normalize_uid
from ..delivery.layout import MD5SUMS, is_project_code, parse_tar_name, science_goals
from ..formats.atomic import read_user_text
from ..restore.prepare import RAW_TAR_RE
from .jobs import command_line


def _folders(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """Walk ``root`` in a stable order, skipping hidden folders (partial deliveries, lock folders)."""
    if not root.is_dir():
        raise InputError(f"does not exist or is not a folder: {root}")
    for top, folders, files in os.walk(root):
        folders[:] = natural_sorted(name for name in folders if not name.startswith("."))
        yield Path(top), folders, natural_sorted(files)


def verify_lines(root: Path) -> list[list[str]]:
    """``verify`` of every delivery below ``root``: a folder made by deliver, or each set of loose tars."""
    lines: list[list[str]] = []
    for top, folders, files in _folders(root.resolve()):
        if MD5SUMS in files and any(name.endswith(".tar") for name in files):
            lines.append(["verify", str(top)])
            folders.clear()
            continue
        sets: dict[tuple[str, str], list[str]] = {}
        for name in files:
            parsed = parse_tar_name(name)
            if parsed is not None:
                sets.setdefault(parsed[:2], []).append(str(top / name))
        lines += [["verify", *tars] for _, tars in sorted(sets.items())]
    return lines


def tarsplit_lines(root: Path, options: Sequence[str] = ()) -> list[list[str]]:
    """``tarsplit`` of every package below ``root`` (a folder named by a project code, with science goals)."""
    lines: list[list[str]] = []
    for top, folders, _ in _folders(root.resolve()):
        if is_project_code(top.name) and science_goals(top):
            lines.append(["tarsplit", str(top), *options])
            folders.clear()
    return lines


def restore_lines(mous_list: Path, products: Path, into: Path, raw: Path | None = None) -> list[list[str]]:
    """``restore-prep`` of each MOUS in ``mous_list``, from its delivery tars below ``products``.

    Each MOUS is unpacked into ``into/<MOUS uid>``; the raw ASDM tars of its project below ``raw``
    (if given) go with it.
    """
    wanted = [normalize_uid(line.split("#")[0]) for line in read_user_text(mous_list, "MOUS list").splitlines()
              if line.split("#")[0].strip()]
    tars: dict[str, list[Path]] = {}
    for top, _, files in _folders(products.resolve()):
        for name in files:
            parsed = parse_tar_name(name)
            if parsed is not None:
                tars.setdefault(parsed[1], []).append(top / name)
    raw_tars: dict[str, list[Path]] = {}
    if raw is not None:
        for top, _, files in _folders(raw.resolve()):
            for name in files:
                match = RAW_TAR_RE.match(name)
                if match:
                    raw_tars.setdefault(match["project"], []).append(top / name)
    missing = [uid for uid in wanted if uid not in tars]
    if missing:
        raise InputError(f"no delivery tars below {products} for {', '.join(missing)}")
    lines: list[list[str]] = []
    for uid in wanted:
        project = parse_tar_name(tars[uid][0].name)[0]  # type: ignore[index]  # parsed above
        inputs = [str(path) for path in tars[uid] + raw_tars.get(project, [])]
        lines.append(["restore-prep", *inputs, "--into", str(into.resolve() / uid)])
    return lines


def jobs_text(lines: Sequence[Sequence[str]], heading: str) -> str:
    """Return the JOBS file: a heading comment, then one command line a line."""
    return "".join([f"# {heading}\n", *(command_line(line) + "\n" for line in lines)])
