"""Small text files: written so that a reader sees the old content or the new, read with one-line errors."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..core.errors import InputError


def write_atomic(path: Path, data: str | bytes | Iterable[str]) -> None:
    """Write ``data`` (or text in pieces) to ``path`` through a temporary name in the same folder, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    elif isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.writelines(data)
    os.replace(tmp, path)


def read_user_text(path: Path, what: str, errors: str = "replace") -> str:
    """Read a text file the user named; every way it can fail is one line naming ``what`` it is."""
    try:
        return Path(path).read_text(encoding="utf-8", errors=errors)
    except FileNotFoundError:
        raise InputError(f"{what} does not exist: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{what} is a folder, not a file: {path}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} is not text: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def write_new_text(path: Path, text: str) -> None:
    """Write a file that must not exist yet: never overwrite what the user did not ask to."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InputError(f"{path} exists already; choose another name or remove it first") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
