"""Paths in tab-separated, one-line fields (the manifest, the journal), with nothing but the core loaded.

The child that hashes a package ahead of its verify reads the manifest's paths before the rest
of qa2pack has loaded (:mod:`qa2pack.delivery.ahead`); ``re`` is loaded only for the rare path
that holds a backslash.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: this module is loaded before typing (see qa2pack.delivery.ahead)
if TYPE_CHECKING:
    import re

_UNESCAPE = {"t": "\t", "n": "\n"}
_escaped: re.Pattern[str] | None = None  # a backslash and the character it escapes (none at the end)


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
    global _escaped
    if "\\" not in text:  # nearly every path: nothing to undo
        return text
    if _escaped is None:
        import re

        _escaped = re.compile(r"\\(.?)", re.DOTALL)
    return _escaped.sub(lambda match: _UNESCAPE.get(match[1], match[1]), text)
