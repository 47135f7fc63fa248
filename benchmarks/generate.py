"""Generate a synthetic reduction tree of a given size, fast and without casacore.

The tables are recognised by content exactly like real ones (``table.info`` with
``Type = Measurement Set`` / ``Calibration``, a ``DATA_DESCRIPTION`` subtable), so qa2pack does
the same work as on real data: one SB with EB folders, each with an ASDM, the two MSs that are
packaged (``.ms.split``, ``.ms.split.cal``) with many table files, caltables, plot folders, a
qa2 folder, logs and scripts.  ``gb`` bytes are spread over the MS main-table data files (the
big files of a real reduction).  The imported ``.ms`` (not packaged) is left out, so that
qa2pack and the peer tools (which copy everything) handle the same files and bytes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

SUBTABLES = ("ANTENNA", "DATA_DESCRIPTION", "FEED", "FIELD", "FLAG_CMD", "HISTORY", "OBSERVATION", "POINTING",
             "POLARIZATION", "PROCESSOR", "SOURCE", "SPECTRAL_WINDOW", "STATE", "SYSCAL", "WEATHER")
CALTABLES = ("ms.tsys", "ms.wvr", "ms.antpos", "ms.split.ap_pre_bandpass", "ms.split.bandpass", "ms.split.phase_int",
             "ms.split.ampli_inf", "ms.split.flux_inf", "ms.split.phase_inf")
_BLOCK = os.urandom(1 << 20)


def _write(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        while size > 0:
            chunk = _BLOCK[: min(size, len(_BLOCK))]
            handle.write(chunk)
            size -= len(chunk)


def _fits(path: Path, side: int = 256) -> None:
    """A minimal valid FITS image (header cards in 2880-byte blocks, big-endian floats)."""
    cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
             f"NAXIS1  = {side:20d}", f"NAXIS2  = {side:20d}", "BUNIT   = 'Jy/beam '", "END"]
    header = "".join(card.ljust(80) for card in cards).ljust(2880).encode()
    data = os.urandom(side * side * 4)
    data = bytes(b & 0x3F for b in data)  # finite, smallish floats
    with open(path, "wb") as handle:
        handle.write(header + data + b"\0" * (-len(data) % 2880))


def _table(path: Path, table_type: str, files: int, data_bytes: int = 0) -> int:
    """Write a table folder of ``files`` files; return how many were written."""
    path.mkdir()
    (path / "table.info").write_text(f"Type = {table_type}\nSubType = \n")
    _write(path / "table.dat", 512)
    _write(path / "table.f0", data_bytes or 256)
    written = 3
    subtables = SUBTABLES if table_type == "Measurement Set" else ("ANTENNA", "FIELD", "SPECTRAL_WINDOW")
    per_sub = max(2, (files - written) // len(subtables))
    for name in subtables:
        sub = path / name
        sub.mkdir()
        (sub / "table.info").write_text("Type = \n")
        for n in range(per_sub - 1):
            _write(sub / f"table.f{n}", 64)
        written += per_sub
    extra = 0
    while written < files:  # tiled storage managers: many small bucket files
        _write(path / f"table.f{extra + 1}_TSM{extra}", 128)
        written += 1
        extra += 1
    return written


# Files in one EB folder as generated below: ASDM.xml, two MSs of 375 files, nine caltables of
# 25, 120 plots, the qa2 folder (4), a checklist, a calibration script and a log.
FILES_PER_EB = 1 + 2 * 375 + len(CALTABLES) * 25 + 120 + 4 + 3
_SB_FILES = 2  # scriptForImaging.py and image.fits


def make_tree(root: Path, files: int = 20_000, gb: float = 0.0) -> Path:
    """Build ``root/SB_bench`` with ``files`` files (at least one EB's worth) and ``gb`` GB of MS data."""
    sb = root / "SB_bench"
    sb.mkdir(parents=True)
    n_ebs = max(1, (files - _SB_FILES) // FILES_PER_EB)
    top_up = max(0, files - _SB_FILES - n_ebs * FILES_PER_EB)  # extra bucket files in the last EB's MS
    ms_bytes = int(gb * 1e9 / (n_ebs * 2)) if gb else 0
    total = 0
    for n in range(n_ebs):
        uid = f"uid___A002_Xbench_X{n:x}"
        eb = sb / f"X{n:x}"
        eb.mkdir()
        asdm = eb / uid
        asdm.mkdir()
        (asdm / "ASDM.xml").write_text("<ASDM/>\n")
        (asdm / "ASDMBinary").mkdir()
        total += 1
        for suffix in ("ms.split", "ms.split.cal"):
            extra = top_up if n == n_ebs - 1 and suffix == "ms.split" else 0
            total += _table(eb / f"{uid}.{suffix}", "Measurement Set", 375 + extra, ms_bytes)
        for suffix in CALTABLES:
            total += _table(eb / f"{uid}.{suffix}", "Calibration", 25)
        plots = eb / f"{uid}.ms.split.bandpass.plots"
        plots.mkdir()
        for p in range(120):
            _write(plots / f"bandpass_{p}.png", 2048)
        qa2 = eb / "qa2"
        qa2.mkdir()
        for p in range(1, 4):
            _write(qa2 / f"qa2_part{p}.png", 4096)
        (qa2 / "textfile.txt").write_text("qa2 report\n")
        (eb / "checklist.txt").write_text("checklist\n")
        (eb / f"{uid}.ms.scriptForCalibration.py").write_text("# calibration\n")
        (eb / "casapy.log").write_text("log\n")
        total += 120 + 4 + 3
    (sb / "scriptForImaging.py").write_text("# imaging\n")
    _fits(sb / "image.fits")
    return sb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", type=Path)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--gb", type=float, default=0.0)
    args = parser.parse_args()
    sb = make_tree(args.root, args.files, args.gb)
    count = sum(len(files) for _, _, files in os.walk(sb))
    print(f"{sb}: {count} files")


if __name__ == "__main__":
    main()
