"""README content: header, FITS product summary (astropy), tree layout and its parser."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
from astropy.io import fits
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import eb
from qa2pack import PackageOptions, package
from qa2pack.analyst.casatables import make_fits
from qa2pack.formats.fitsinfo import summarize_fits
from qa2pack.planning.readme import parse_tree, readme_tree, render_readme, render_tree, split_header


def test_fits_summary_reads_size_frequency_beam_and_noise(tmp_path: Path) -> None:
    path = tmp_path / "img.fits"
    make_fits(path, freq_hz=345.8e9, beam_arcsec=(0.5, 0.4, 30.0), noise=0.003, size=128)
    summary = summarize_fits(path)
    assert summary is not None
    assert summary.shape == (128, 128, 1, 1)
    assert abs(summary.frequency_ghz - 345.8) < 1e-9
    assert summary.beam_arcsec == pytest.approx((0.5, 0.4, 30.0))
    assert summary.unit == "Jy/beam"
    assert abs(summary.rms - 0.003) / 0.003 < 0.1  # the source barely moves the robust estimate


def test_unreadable_fits_is_skipped_with_a_log_line(tmp_path: Path, caplog) -> None:
    bad = tmp_path / "broken.fits"
    bad.write_bytes(b"SIMPLE  = not a fits file")
    assert summarize_fits(bad) is None
    assert "broken.fits: a damaged FITS file: header ends before its END card" in caplog.text


def test_readme_has_header_then_product_table_then_tree(build, tmp_path: Path) -> None:
    root = build(eb("SB/X1", "uid___A002_X14_X1") | {"SB/cont.fits": "@fits"})
    header = tmp_path / "h.txt"
    header.write_text("Cycle: 9\nProject code: 2022.1.00001.S\n")
    package(root, tmp_path / "2022.1.00001.S", PackageOptions(readme=header))
    readme = (tmp_path / "2022.1.00001.S/sg_ouss_id/group_ouss_id/member_ouss_id/README").read_text()
    assert readme.startswith("Cycle: 9\nProject code: 2022.1.00001.S\n")
    table = readme.index("##### Image products")
    tree = readme.index("|-- 2022.1.00001.S/\n|   |-- sg_ouss_id/")
    assert table < tree
    row = next(line for line in readme.splitlines() if line.startswith("cont.fits"))
    assert "64 x 64 x 1 x 1" in row and "230.5000" in row and "0.620 x 0.480, -73.0" in row and "Jy/beam" in row
    assert split_header(readme) == "Cycle: 9\nProject code: 2022.1.00001.S\n"


def test_tree_is_drawn_in_the_layout_of_alma_readmes_and_parses_back() -> None:
    text = render_tree([("P/a/b/c.txt", False), ("P/a/README", False), ("P/a/d", True), ("P/Z.txt", False)])
    assert text == (
        "|-- P/\n"
        "|   |-- a/\n"
        "|   |   |-- b/\n"
        "|   |   |   |-- c.txt\n"
        "|   |   |-- d/\n"
        "|   |   |-- README\n"
        "|   |-- Z.txt\n"
        "\n"
        "4 directories, 3 files\n"
    )
    root, paths, counts = parse_tree(render_readme("head", "", text))
    assert root == "P"
    assert paths == ["a", "a/b", "a/b/c.txt", "a/d", "a/README", "Z.txt"]
    assert counts == (4, 3)


def test_readme_tree_stops_at_the_archive_depth_and_leaves_out_auxiliary_products() -> None:
    member = "sg_ouss_id/group_ouss_id/member_ouss_id"
    text = readme_tree("2019.1.00001.S", [
        (f"{member}/README", False),
        (f"{member}/calibration/uid___A002_X1_X2.calibration/uid___A002_X1_X2.ms.split.bandpass/table.dat", False),
        (f"{member}/calibrated/uid___A002_X1_X2.ms.split.cal", True),
        (f"{member}/calibration/uid___A001_X1_X3.hifa_calimage.auxproducts.tgz", False),
        (f"{member}/qa/uid___A001_X1_X3.hifa_calimage.pipeline_aquareport.xml", False),
        (f"{member}/script/scriptForPI.py", False),
    ])
    lines = text.splitlines()
    assert lines[0] == "|-- 2019.1.00001.S/"
    assert "|   |   |   |   |   |-- uid___A002_X1_X2.calibration/" in lines  # listed, its tables not
    assert not any("bandpass" in line or "auxproducts" in line or "aquareport" in line for line in lines)
    assert all(line.startswith("|") for line in lines[:-2]) and lines[-1] == "9 directories, 2 files"


def test_parse_tree_reads_the_unicode_layout_of_real_readmes() -> None:
    real = (
        "header\n\n2015.1.00262.S\n"
        "└── science_goal.uid___A001_X2fe_X94f\n"
        "    └── group.uid___A001_X2fe_X950\n"
        "        └── member.uid___A001_X2fe_X951\n"
        "            ├── calibration\n"
        "            │   └── uid___A002_Xb70397_X9f06.calibration.tgz\n"
        "            └── README\n\n"
        "5 directories, 2 files\n"
    )
    root, paths, counts = parse_tree(real)
    assert root == "2015.1.00262.S"
    assert paths[-1] == "science_goal.uid___A001_X2fe_X94f/group.uid___A001_X2fe_X950/member.uid___A001_X2fe_X951/README"
    assert counts == (5, 2)


def test_real_delivered_readme_tree_is_understood(realdata: Path) -> None:
    parsed = parse_tree((realdata / "feo-alma/script_band4/README").read_text())
    assert parsed is not None
    root, paths, (dirs, files) = parsed
    assert root == "2015.1.00262.S"
    assert len(paths) == dirs + files == 9 + 31
    assert any(p.endswith("/script/scriptForPI.py") for p in paths)


def test_numpy_is_what_astropy_gives() -> None:
    # Guards the assumption in fitsinfo that data come back as numpy arrays.
    hdu = fits.PrimaryHDU(numpy.zeros((2, 2), dtype="f4"))
    assert isinstance(hdu.data, numpy.ndarray)


def _reference_tree(paths: set[str], dirs: set[str]) -> str:
    """The archive's layout drawn the obvious way: recursively, siblings case-insensitively then by name."""
    children: dict[str, set[str]] = {}
    for path in paths | dirs:
        parts = path.split("/")
        for n in range(len(parts)):
            children.setdefault("/".join(parts[:n]), set()).add(parts[n])
    lines: list[str] = []
    counts = [0, 0]

    def draw(folder: str, depth: int) -> None:
        for name in sorted(children.get(folder, ()), key=lambda name: (name.casefold(), name)):
            path = f"{folder}/{name}" if folder else name
            is_dir = path in children or path in dirs
            lines.append(f"{'|   ' * depth}|-- {name}{'/' if is_dir else ''}")
            counts[0 if is_dir else 1] += 1
            if is_dir:
                draw(path, depth + 1)

    draw("", 0)
    dirs_word = "directory" if counts[0] == 1 else "directories"
    return "\n".join([*lines, "", f"{counts[0]} {dirs_word}, {counts[1]} file{'' if counts[1] == 1 else 's'}"]) + "\n"


@settings(max_examples=200, deadline=None)
@given(st.sets(st.lists(st.sampled_from(["a", "A", "b", "B.ms", "c_1", "Z", "z"]), min_size=1, max_size=4)
               .map("/".join), max_size=25),
       st.sets(st.sampled_from(["a", "A", "b/a", "Z/z"]), max_size=3))
def test_tree_drawing_matches_the_obvious_recursive_drawing(paths: set[str], dirs: set[str]) -> None:
    # A path that is also a prefix of another is a folder; keep the inputs consistent.
    files = {p for p in paths if not any(q.startswith(p + "/") for q in paths | dirs)}
    dirs = dirs - files
    entries = [(p, False) for p in files] + [(d, True) for d in dirs]
    expected = _reference_tree(files, dirs)
    assert render_tree(entries) == expected
    if files or dirs:  # and it reads back to the same paths (under the first top-level name)
        parsed = parse_tree(render_readme("header", "", render_tree([(f"P/{p}", d) for p, d in entries])))
        assert parsed is not None and sorted(parsed[1]) == sorted(
            {"/".join(p.split("/")[:n]) for p in files | dirs for n in range(1, p.count("/") + 2)})
