"""Write a small file so that a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import os
import re
from pathlib import Path


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary name in the same folder, then rename."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        tmp.write_text(data, encoding="utf-8")
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


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
