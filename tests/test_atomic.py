"""Manifest and journal fields: escaping round-trips every path, whatever characters it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from qa2pack.formats.fields import escape_field, unescape_field

FIELD_TEXT = st.text(alphabet=st.sampled_from(["a", "/", " ", "\\", "\t", "\n", "t", "n", "é"]), max_size=30)


def _reference_unescape(text: str) -> str:
    """The rule spelled out one character at a time: a backslash takes the next character."""
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append({"t": "\t", "n": "\n"}.get(following, following))
        else:
            out.append(char)
    return "".join(out)


@given(FIELD_TEXT)
def test_escaped_fields_are_one_line_and_round_trip(text: str) -> None:
    escaped = escape_field(text)
    assert "\t" not in escaped and "\n" not in escaped
    assert unescape_field(escaped) == text


@given(FIELD_TEXT)
def test_unescape_follows_the_rule_on_any_text(text: str) -> None:
    assert unescape_field(text) == _reference_unescape(text)


def test_manifest_round_trips_paths_with_tabs_newlines_and_backslashes(tmp_path) -> None:
    from qa2pack.formats.manifest import read_manifest, write_manifest

    plain = {"a/plain.txt": (3, None), "b/x.fits": (10, "0" * 32)}
    odd = {**plain, **{"c/tab\there": (1, None), "c/new\nline": (2, None), "c/back\\slash\\n": (4, "f" * 32)}}
    for entries in (plain, odd):
        write_manifest(tmp_path / "m.tsv", entries, {"mode": "hard"})
        text = (tmp_path / "m.tsv").read_text()
        assert len(text.splitlines()) == 3 + len(entries)  # one line per entry, whatever its name
        assert read_manifest(tmp_path / "m.tsv").entries == entries


def test_a_folder_block_is_escaped_like_rows(tmp_path) -> None:
    from qa2pack.formats.manifest import Unhashed, read_manifest, write_manifest

    block = Unhashed("c/odd\tfolder\\", (("new\nline", 2), ("plain", 3), ("tab\there", 1)))
    write_manifest(tmp_path / "blocks.tsv", [("b/x.fits", 10, "0" * 32), block], {"mode": "hard"})
    rows = {"b/x.fits": (10, "0" * 32), **{f"{block.folder}/{name}": (size, None) for name, size in block.files}}
    write_manifest(tmp_path / "rows.tsv", rows, {"mode": "hard"})
    assert (tmp_path / "blocks.tsv").read_text() == (tmp_path / "rows.tsv").read_text()
    assert len((tmp_path / "blocks.tsv").read_text().splitlines()) == 3 + 4
    assert read_manifest(tmp_path / "blocks.tsv").entries == rows
