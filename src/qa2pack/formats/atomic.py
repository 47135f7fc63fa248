"""Small text files: written so that a reader sees the old content or the new, read with one-line errors."""

from __future__ import annotations

import os
import re
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


def escape_field(text: str) -> str:
    """Escape a path for one tab-separated, one-line field (backslash, tab, newline)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def escape_fields(texts: list[str]) -> list[str]:
    """Escape many fields, checking once whether any needs it (almost none ever does)."""
    together = "\0".join(texts)
    if "\\" in together or "\t" in together or "\n" in together:
        return [escape_field(text) for text in texts]
    return texts


def unescape_field(text: str) -> str:
    """Undo :func:`escape_field` (an escaped backslash before n stays two characters)."""
    if "\\" not in text:  # nearly every path: nothing to undo
        return text
    return _ESCAPED.sub(lambda match: _UNESCAPE.get(match[1], match[1]), text)


_ESCAPED = re.compile(r"\\(.?)", re.DOTALL)  # a backslash and the character it escapes (none at the end)
_UNESCAPE = {"t": "\t", "n": "\n"}
