"""Write small but real CASA tables, ASDMs, plots and FITS images (for the demo and the tests).

python-casacore writes the tables (qa2pack itself never needs it): MSs, new-style caltables
(``Type = Calibration``), old-style caltables (with a ``CAL_DESC`` subtable), image masks and
flag-version folders.  Each kind is made once into a template folder and then copied, which
is how a test suite or the demo makes dozens of them in well under a second.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import InputError

TABLE_KINDS = ("ms", "cal", "calold", "mask", "image", "flagversions")


def _casacore() -> Any:
    try:
        import casacore.tables as tables
    except ImportError:
        raise InputError("this needs python-casacore to write real CASA tables: "
                         "pip install 'qa2pack[demo]'") from None
    return tables


def make_ms(path: Path, rows: int = 4) -> None:
    """Write a MeasurementSet with the standard subtables and a few rows of DATA."""
    tables = _casacore()
    data = tables.makearrcoldesc("DATA", 0j, ndim=2, shape=[4, 2], datamanagertype="StandardStMan")
    ms = tables.default_ms(str(path), tables.maketabdesc([data]))
    ms.addrows(rows)
    ms.putcol("TIME", [4.8e9 + i for i in range(rows)])
    ms.close()
    spw = tables.table(str(path / "SPECTRAL_WINDOW"), readonly=False, ack=False)
    spw.addrows(1)
    spw.close()


def make_caltable(path: Path, subtype: str = "G Jones") -> None:
    """Write a CASA >= 3.4 caltable: ``table.info`` says ``Type = Calibration``, no CAL_DESC."""
    tables = _casacore()
    columns = [
        tables.makescacoldesc("TIME", 0.0),
        tables.makescacoldesc("ANTENNA1", 0),
        tables.makescacoldesc("SPECTRAL_WINDOW_ID", 0),
        tables.makearrcoldesc("CPARAM", 0j, ndim=2),
        tables.makearrcoldesc("FLAG", False, ndim=2),
    ]
    table = tables.table(str(path), tables.maketabdesc(columns), nrow=3, readonly=False, ack=False)
    table.putinfo({"type": "Calibration", "subType": subtype, "readme": ""})
    table.close()
    for sub in ("ANTENNA", "FIELD", "SPECTRAL_WINDOW", "HISTORY", "OBSERVATION"):
        sub_table = tables.table(str(path / sub), tables.maketabdesc([tables.makescacoldesc("NAME", "")]),
                                 nrow=1, readonly=False, ack=False)
        sub_table.close()


def make_old_caltable(path: Path) -> None:
    """Write a CASA <= 3.3 caltable: a ``CAL_DESC`` subtable and no ``Type = Calibration``."""
    tables = _casacore()
    columns = [tables.makescacoldesc("TIME", 0.0), tables.makescacoldesc("CAL_DESC_ID", 0),
               tables.makearrcoldesc("GAIN", 0j, ndim=3)]
    table = tables.table(str(path), tables.maketabdesc(columns), nrow=3, readonly=False, ack=False)
    desc = tables.table(str(path / "CAL_DESC"), tables.maketabdesc([tables.makescacoldesc("NUM_SPW", 1)]),
                        nrow=1, readonly=False, ack=False)
    desc.close()
    table.putkeyword("CAL_DESC", f"Table: {path / 'CAL_DESC'}")
    table.close()


def make_image(path: Path, shape: tuple[int, ...] = (1, 1, 16, 16)) -> None:
    """Write a CASA image (``Type = Image``), e.g. a clean mask."""
    _casacore()
    import casacore.images as images
    import numpy

    image = images.image(str(path), shape=shape)
    image.putdata(numpy.ones(shape, dtype="f4"))
    del image


def make_flagversions(path: Path) -> None:
    """Write an ``*.flagversions`` folder: FLAG_VERSION_LIST and one saved flag table."""
    tables = _casacore()
    path.mkdir(parents=True)
    (path / "FLAG_VERSION_LIST").write_text("Original : Original flags at import\n")
    flags = tables.table(str(path / "flags.Original"),
                         tables.maketabdesc([tables.makearrcoldesc("FLAG", False, ndim=2)]),
                         nrow=2, readonly=False, ack=False)
    flags.close()


_TEMPLATE_WRITERS: dict[str, Callable[[Path], None]] = {
    "ms": make_ms,
    "cal": make_caltable,
    "calold": make_old_caltable,
    "mask": make_image,
    "image": make_image,
    "flagversions": make_flagversions,
}


class TableTemplates:
    """Each table kind written once, then copied wherever one is needed."""

    def __init__(self, root: Path | None = None) -> None:
        self._own = root is None
        self.root = Path(tempfile.mkdtemp(prefix="qa2pack-tables-")) if root is None else root
        self._made: set[str] = set()

    def copy(self, kind: str, dest: Path) -> None:
        """Copy a table of ``kind`` (one of ``TABLE_KINDS``) to ``dest``."""
        template = self.root / f"template.{kind}"
        if kind not in self._made and not template.exists():
            _TEMPLATE_WRITERS[kind](template)
        self._made.add(kind)
        shutil.copytree(template, dest)

    def cleanup(self) -> None:
        """Remove the templates if this object made their folder."""
        if self._own:
            shutil.rmtree(self.root, ignore_errors=True)


def make_asdm(path: Path, uid: str) -> None:
    """Write a small ASDM: ``ASDM.xml``, a few table XMLs and one binary in ``ASDMBinary``."""
    path.mkdir(parents=True)
    archive_uid = "uid://" + uid[len("uid___"):].replace("_", "/") if uid.startswith("uid___") else uid
    (path / "ASDM.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ASDM xmlns="http://Alma/XASDM/ASDM" schemaVersion="2">\n'
        f'  <Entity entityId="{archive_uid}" entityTypeName="ASDM"/>\n'
        "  <Table><Name>Main</Name><NumberRows>1</NumberRows></Table>\n"
        "  <Table><Name>ExecBlock</Name><NumberRows>1</NumberRows></Table>\n"
        "</ASDM>\n"
    )
    for name in ("Main", "ExecBlock", "Antenna", "Scan"):
        (path / f"{name}.xml").write_text(f'<?xml version="1.0"?>\n<{name}Table/>\n')
    binary = path / "ASDMBinary"
    binary.mkdir()
    (binary / f"{uid}_X1").write_bytes(os.urandom(256))


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """Return a valid grey PNG image (QA2 plots are real PNGs, not empty files)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_fits(path: Path, freq_hz: float = 230.5e9, beam_arcsec: tuple[float, float, float] = (0.62, 0.48, -73.0),
              noise: float = 0.0021, size: int = 64, seed: int = 229) -> None:
    """Write a FITS image with a Gaussian source on noise, a FREQ axis and a clean beam."""
    import numpy
    from astropy.io import fits

    rng = numpy.random.default_rng(seed)
    data = rng.normal(0.0, noise, size=(1, 1, size, size)).astype("f4")
    y, x = numpy.mgrid[:size, :size]
    data[0, 0] += (0.15 * numpy.exp(-((x - size / 2) ** 2 + (y - size / 2) ** 2) / 18.0)).astype("f4")
    header = fits.Header()
    for axis, (ctype, crval, cdelt) in enumerate(
        [("RA---SIN", 146.99, -0.1 / 3600), ("DEC--SIN", 13.28, 0.1 / 3600), ("FREQ", freq_hz, 1.0e6),
         ("STOKES", 1.0, 1.0)], start=1):
        header[f"CTYPE{axis}"], header[f"CRVAL{axis}"], header[f"CDELT{axis}"] = ctype, crval, cdelt
    header["BMAJ"], header["BMIN"], header["BPA"] = beam_arcsec[0] / 3600, beam_arcsec[1] / 3600, beam_arcsec[2]
    header["BUNIT"] = "Jy/beam"
    header["OBJECT"] = "IRC+10216"
    fits.PrimaryHDU(data, header).writeto(path)


def build_tree(root: Path, layout: Mapping[str, str], templates: TableTemplates) -> Path:
    """Create ``layout`` below ``root``: values ``@ms``, ``@cal``, ... are tables, others text.

    Special values: ``@asdm`` (an ASDM named by its path), ``@plots`` (a folder of 3 PNGs),
    ``@png`` (one PNG), ``@fits`` (an image), ``@dir`` (an empty folder), ``@link:TARGET``.
    """
    for rel, what in layout.items():
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        kind = what[1:] if what.startswith("@") else None
        if kind in TABLE_KINDS:
            templates.copy(kind, dest)
        elif kind == "asdm":
            make_asdm(dest, dest.name)
        elif kind == "plots":
            dest.mkdir()
            for n in range(1, 4):
                (dest / f"{dest.name.split('.')[0]}_plot{n}.png").write_bytes(png_bytes(4 + n, 4))
        elif kind == "png":
            dest.write_bytes(png_bytes())
        elif kind == "fits":
            make_fits(dest)
        elif kind == "dir":
            dest.mkdir(exist_ok=True)
        elif kind is not None and kind.startswith("link:"):
            os.symlink(kind[len("link:"):], dest)
        else:
            dest.write_text(what)
    return root
