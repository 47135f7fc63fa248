"""The tree shapes the benchmarks compare qa2pack on: where per-file work, folder sizes or data dominate.

    A   4 EBs x 2 MSs x 1,500 files of 16 KB in one folder (12k files): many small files per folder
    A2  the same with 5,000 files of 8 KB per folder (40k files)
    B   an analyst's tree: 8 EBs, 30 caltables x 20 files, 2 x 200 plots, 30 MB per MS (14k files)
    C   generate.py's reduction tree, 100,000 files, no data
    D   4 files of 1 GB (and a few dozen small ones): the data dominate
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from generate import _fits, _table, _write, make_tree


def _eb(sb: Path, n: int) -> tuple[Path, str]:
    uid = f"uid___A002_Xshape_X{n:x}"
    eb = sb / f"X{n:x}"
    eb.mkdir()
    asdm = eb / uid
    asdm.mkdir()
    (asdm / "ASDM.xml").write_text("<ASDM/>\n")
    (eb / f"{uid}.ms.scriptForCalibration.py").write_text("# calibration\n")
    (eb / "casapy.log").write_text("log\n")
    return eb, uid


def _flat_ms(path: Path, files: int, size: int) -> None:
    """An MS whose main folder holds ``files`` data files of ``size`` bytes (tiled storage, many buckets)."""
    _table(path, "Measurement Set", 20)
    for n in range(files):
        _write(path / f"table.f{n}_TSM1.bucket", size)


def shape_a(root: Path, files_per_folder: int = 1500, size: int = 16 << 10) -> Path:
    sb = root / "SB_A"
    sb.mkdir(parents=True)
    for n in range(4):
        eb, uid = _eb(sb, n)
        for suffix in ("ms.split", "ms.split.cal"):
            _flat_ms(eb / f"{uid}.{suffix}", files_per_folder, size)
    _fits(sb / "image.fits")
    return sb


def shape_a2(root: Path) -> Path:
    return shape_a(root, 5000, 8 << 10)


def shape_b(root: Path) -> Path:
    sb = root / "SB_B"
    sb.mkdir(parents=True)
    for n in range(8):
        eb, uid = _eb(sb, n)
        for suffix in ("ms.split", "ms.split.cal"):
            _table(eb / f"{uid}.{suffix}", "Measurement Set", 375, 30_000_000)
        for c in range(30):
            _table(eb / f"{uid}.ms.split.cal{c:02d}", "Calibration", 20)
        for kind in ("bandpass", "phase"):
            plots = eb / f"{uid}.ms.split.{kind}.plots"
            plots.mkdir()
            for p in range(200):
                _write(plots / f"{kind}_{p}.png", 24 << 10)
        qa2 = eb / "qa2"
        qa2.mkdir()
        for p in range(1, 4):
            _write(qa2 / f"qa2_part{p}.png", 40 << 10)
        (qa2 / "textfile.txt").write_text("qa2 report\n")
    (sb / "scriptForImaging.py").write_text("# imaging\n")
    _fits(sb / "image.fits")
    return sb


def shape_c(root: Path) -> Path:
    return make_tree(root, 100_000, 0.0)


def shape_d(root: Path) -> Path:
    sb = root / "SB_D"
    sb.mkdir(parents=True)
    for n in range(2):
        eb, uid = _eb(sb, n)
        for suffix in ("ms.split", "ms.split.cal"):
            path = eb / f"{uid}.{suffix}"
            path.mkdir()
            (path / "table.info").write_text("Type = Measurement Set\nSubType = \n")
            _write(path / "table.dat", 512)
            _write(path / "table.f0", 1_000_000_000)
            for sub in ("ANTENNA", "DATA_DESCRIPTION", "FIELD", "SPECTRAL_WINDOW"):
                (path / sub).mkdir()
                (path / sub / "table.info").write_text("Type = \n")
                _write(path / sub / "table.f0", 1024)
    _fits(sb / "image.fits")
    return sb


# shape: (builder, comparisons run on it)
ALL = ("hard", "fake", "copy", "tarsplit", "verify")
SHAPES: dict[str, tuple[Callable[[Path], Path], tuple[str, ...], str]] = {
    "A": (shape_a, ALL, "4 EBs x 2 MSs x 1,500 files of 16 KB in one folder"),
    "A2": (shape_a2, ("hard", "fake"), "4 EBs x 2 MSs x 5,000 files of 8 KB in one folder"),
    "B": (shape_b, ALL, "analyst tree: 8 EBs, 30 caltables x 20 files, 2 x 200 plots, 30 MB per MS"),
    "C": (shape_c, ("hard", "fake"), "generate.py reduction tree, no data"),
    "D": (shape_d, ("copy", "tarsplit", "verify"), "4 files of 1 GB"),
}
