"""Discovery by content: names never decide what a folder is."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from qa2pack.core.model import Kind, Unit
from qa2pack.scan.classify import DirFacts, classify_dir, parse_table_type
from qa2pack.scan.probe import scan_tree


def facts(subdirs=(), files=(), table_type=None) -> DirFacts:
    return DirFacts(frozenset(subdirs), frozenset(files), table_type)


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        (facts(["ASDMBinary"], ["Main.xml"]), Kind.ASDM),
        (facts([], ["ASDM.xml", "Main.xml"]), Kind.ASDM),
        (facts(["DATA_DESCRIPTION", "ANTENNA"], ["table.dat", "table.info"]), Kind.MS),
        (facts(["ANTENNA"], ["table.dat"], "Measurement Set"), Kind.MS),
        (facts(["CAL_DESC"], ["table.dat"]), Kind.CALTABLE),
        (facts(["ANTENNA", "FIELD"], ["table.dat"], "Calibration"), Kind.CALTABLE),
        (facts(["flags.Original"], ["FLAG_VERSION_LIST"]), Kind.FLAGVERSIONS),
        (facts(["logtable"], ["table.dat"], "Image"), Kind.IMAGE),
        (facts(["NAMES"], ["table.dat"], "MEP"), Kind.TABLE),
        (facts([], ["a.png", "b.png"]), Kind.PLOTS),
        (facts(["sub"], ["a.png", "notes.txt"]), None),
        (facts(["X1", "X2"], ["qa2_part1.png"]), None),  # pngs beside subfolders: an ordinary folder
        (facts([], []), None),
    ],
)
def test_classify_dir_by_content(given: DirFacts, kind: Kind | None) -> None:
    assert classify_dir(given) is kind


def test_table_info_type_line_is_parsed() -> None:
    assert parse_table_type("Type = Calibration\nSubType = B Jones\n") == "Calibration"
    assert parse_table_type("Type = \nSubType = \n") == ""
    assert parse_table_type("garbage") is None


def units_by_name(root: Path) -> dict[str, Unit]:
    scan = scan_tree(root)
    return {u.name: u for folder in scan.tree.walk() for u in folder.units}


def test_real_tables_made_by_casacore_are_classified_whatever_their_names(build) -> None:
    # Deliberately misleading names: content must win.
    root = build({
        "a/looks_like.cal": "@ms",
        "a/looks_like.ms": "@cal",
        "a/old_style_table": "@calold",
        "a/mask_named.ms.split": "@mask",
        "a/flags": "@flagversions",
        "a/uid___A002_X1_X2": "@asdm",
        "a/plots_named.ms": "@plots",
    })
    units = units_by_name(root)
    assert units["looks_like.cal"].kind is Kind.MS
    assert units["looks_like.ms"].kind is Kind.CALTABLE
    assert units["looks_like.ms"].table_type == "Calibration"
    assert units["old_style_table"].kind is Kind.CALTABLE
    assert units["old_style_table"].table_type != "Calibration"  # found through CAL_DESC alone
    assert units["mask_named.ms.split"].kind is Kind.IMAGE
    assert units["flags"].kind is Kind.FLAGVERSIONS
    assert units["uid___A002_X1_X2"].kind is Kind.ASDM
    assert units["plots_named.ms"].kind is Kind.PLOTS


def test_everything_inside_a_table_belongs_to_it(build) -> None:
    root = build({"x/uid___A002_X1_X2.ms": "@ms"})
    scan = scan_tree(root)
    (folder,) = [f for f in scan.tree.walk() if f.name == "x"]
    (unit,) = folder.units
    assert not folder.folders  # the MS subtables are not folders of their own
    inner = {name for name, _ in unit.files}
    assert "DATA_DESCRIPTION/table.dat" in inner and "table.info" in inner
    assert "DATA_DESCRIPTION" in unit.dirs
    assert unit.size == sum(p.stat().st_size for p in (root / "x/uid___A002_X1_X2.ms").rglob("*") if p.is_file())
    table = root / "x/uid___A002_X1_X2.ms"
    assert list(unit.files) == sorted((p.relative_to(table).as_posix(), p.stat().st_size)
                                      for p in table.rglob("*") if p.is_file())  # in path order, whatever order the folder lists
    assert list(unit.dirs) == sorted(p.relative_to(table).as_posix() for p in table.rglob("*") if p.is_dir())


def test_a_qa2_folder_of_pngs_is_not_a_plot_folder(build) -> None:
    root = build({"X1/qa2/qa2_part1.png": "@png", "X1/qa2/qa2_part2.png": "@png", "X1/uid___A002_X1_X2.ms": "@ms"})
    scan = scan_tree(root)
    assert [f.name for f in scan.tree.walk()] == ["orig", "X1", "qa2"]


# -- the real-data corpus (read-only; copied before use) -----------------------------------------


def test_real_caltables_ms_and_vla_sdm_from_the_corpus(realdata: Path, tmp_path: Path) -> None:
    root = tmp_path / "real"
    root.mkdir()
    for name in ("sma.ms.bcal", "sma.ms.amp.gcal", "sma.ms.dcal", "sma.ms.tcal", "sma.ms.dterms.pcal",
                 "day2_TDEM0003_10s_norx_1src_1spw.ms", "1090008640_birli_pyuvdata.ms"):
        shutil.copytree(realdata / "pyuvdata" / name, root / name)
    shutil.copytree(realdata / "pyuvdata/unpacked/X5707_1spw_1scan_10chan_1time_1bl_noatm.ms", root / "alma.ms")
    sdm = "16A-459_TEST_1hr_000.57633.66130137732.scan7.cut1"
    shutil.copytree(realdata / "rfpipe" / sdm, root / sdm)
    for archive in ("cubical/blankcaltable.CASA.tgz", "dp3/tNDPPP-generic.MS.tgz", "dp3/tApplyCal_tmp.parmdb.tgz",
                    "dp3/tNDPPP.in_MS.tgz"):
        with tarfile.open(realdata / archive) as tar:
            tar.extractall(root, filter="data")
    units = units_by_name(root)
    for name in ("sma.ms.bcal", "sma.ms.amp.gcal", "sma.ms.dcal", "sma.ms.tcal", "sma.ms.dterms.pcal",
                 "blankcaltable.CASA"):
        assert units[name].kind is Kind.CALTABLE, name
    for name in ("day2_TDEM0003_10s_norx_1src_1spw.ms", "1090008640_birli_pyuvdata.ms", "alma.ms",
                 "tNDPPP-generic.MS", "tNDPPP_tmp.MS"):
        assert units[name].kind is Kind.MS, name
    assert units[sdm].kind is Kind.ASDM
    assert units["tApplyCal_tmp.parmdb"].kind is Kind.TABLE  # a LOFAR ParmDB: neither MS nor caltable
    # The nested ParmDB/SourceDB inside the LOFAR MS belong to the MS, not classified on their own.
    assert "instrument" not in units and any(f.startswith("instrument/") for f, _ in units["tNDPPP-generic.MS"].files)
