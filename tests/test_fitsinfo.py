"""The FITS reader agrees with astropy (the reference) on the images a reduction holds."""

from __future__ import annotations

from pathlib import Path

import numpy
import pytest
from astropy.io import fits
from hypothesis import given
from hypothesis import strategies as st

from qa2pack.analyst.casatables import make_fits
from qa2pack.formats.fitsinfo import (
    SAMPLE_VALUES,
    FitsProblem,
    _robust_rms,
    _summarize_with_astropy,
    read_summaries,
    summarize_fits,
)


def _header(**cards: object) -> fits.Header:
    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    return header


def assert_agrees_with_astropy(path: Path, rms_tolerance: float = 1e-9) -> None:
    """Compare with what astropy reads (whole data, scaled, blanks as NaN): the reference, computed here."""
    with fits.open(path, memmap=False) as hdus:
        hdu = next(h for h in hdus if h.is_image and h.header.get("NAXIS", 0) > 0)
        header, data = hdu.header, numpy.asarray(hdu.data, dtype="f8").reshape(-1)
    data = data[numpy.isfinite(data)]
    shape = tuple(header[f"NAXIS{n}"] for n in range(1, header["NAXIS"] + 1))
    ours = summarize_fits(path)
    assert ours is not None
    assert ours.shape == shape
    assert ours.unit == header.get("BUNIT", "").strip()
    assert ours.rms == pytest.approx(1.4826 * numpy.median(numpy.abs(data - numpy.median(data))), rel=rms_tolerance)
    if "BMAJ" in header:
        assert ours.beam_arcsec == pytest.approx((header["BMAJ"] * 3600, header["BMIN"] * 3600, header["BPA"]))


def test_primary_float_image_as_casa_exports_it(tmp_path: Path) -> None:
    make_fits(tmp_path / "cube.fits", size=100)
    assert_agrees_with_astropy(tmp_path / "cube.fits")


def test_image_in_an_extension_with_nans_and_quoted_strings(tmp_path: Path) -> None:
    data = numpy.random.default_rng(1).normal(0, 0.5, (3, 40, 50))
    data[0, :5] = numpy.nan
    header = _header(CTYPE1="RA---SIN", CTYPE2="DEC--SIN", CTYPE3="VRAD", RESTFRQ=1.15271202e11,
                     BUNIT="Jy/beam", OBJECT="it''s a ' quote", BMAJ=1e-4, BMIN=5e-5, BPA=12.5)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, header)]).writeto(tmp_path / "ext.fits")
    assert_agrees_with_astropy(tmp_path / "ext.fits")
    summary = summarize_fits(tmp_path / "ext.fits")
    assert summary is not None and summary.shape == (50, 40, 3) and summary.frequency_ghz == pytest.approx(115.271202)


def test_scaled_integers_with_blank_pixels(tmp_path: Path) -> None:
    raw = numpy.random.default_rng(2).integers(-3000, 3000, (60, 70)).astype(">i2")
    raw[:3] = -32768
    header = _header(SIMPLE=True, BITPIX=16, NAXIS=2, NAXIS1=70, NAXIS2=60, BSCALE=0.001, BZERO=0.5,
                     BLANK=-32768, BUNIT="K")
    body = raw.tobytes()
    (tmp_path / "int.fits").write_bytes(header.tostring().encode() + body + bytes(-len(body) % 2880))
    with fits.open(tmp_path / "int.fits") as written:  # astropy sees scaled values, blanks as NaN
        assert numpy.isnan(written[0].data[0, 0]) and written[0].data[5, 0] == pytest.approx(0.5 + 0.001 * raw[5, 0])
    assert_agrees_with_astropy(tmp_path / "int.fits", rms_tolerance=1e-6)  # astropy scales to float32


def test_a_large_cube_is_sampled_and_the_noise_stays_close(tmp_path: Path) -> None:
    noise = 0.002
    data = numpy.random.default_rng(3).normal(0, noise, (8, 300, 300)).astype("f4")  # 720k pixels > sample
    assert data.size > SAMPLE_VALUES
    make_path = tmp_path / "big.fits"
    fits.PrimaryHDU(data, _header(CTYPE3="FREQ", CRVAL3=2.3e11)).writeto(make_path)
    summary = summarize_fits(make_path)
    assert summary is not None and summary.rms is not None
    assert abs(summary.rms - noise) / noise < 0.03
    assert_agrees_with_astropy(make_path, rms_tolerance=0.03)


def test_compressed_images_go_to_astropy(tmp_path: Path) -> None:
    data = numpy.random.default_rng(4).normal(0, 1.0, (64, 64)).astype("f4")
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, _header(BUNIT="Jy/beam"))]).writeto(tmp_path / "c.fits")
    summary = summarize_fits(tmp_path / "c.fits")
    assert summary is not None and summary.shape == (64, 64) and summary.unit == "Jy/beam"
    assert summary.rms == pytest.approx(1.0, rel=0.1)


def test_a_table_only_file_has_no_image(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=numpy.arange(3.0))])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "t.fits")
    assert summarize_fits(tmp_path / "t.fits") is None


def test_truncated_data_is_reported_not_raised(tmp_path: Path, caplog) -> None:
    make_fits(tmp_path / "cut.fits", size=128)
    whole = (tmp_path / "cut.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(whole[: 2880 * 3])
    assert summarize_fits(tmp_path / "cut.fits") is None  # no README line from half an image
    assert "cut.fits: truncated: its header announces 65536 bytes of data, the file holds 5760" in caplog.text


def test_cards_with_values_of_the_wrong_kind_are_reported_not_raised(tmp_path: Path, caplog) -> None:
    cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   = 'two'", "END"]
    (tmp_path / "odd.fits").write_bytes("".join(c.ljust(80) for c in cards).ljust(2880).encode())
    assert summarize_fits(tmp_path / "odd.fits") is None
    assert "odd.fits" in caplog.text


def test_both_readers_say_the_same_for_every_kind_of_image(tmp_path: Path) -> None:
    """A README must not depend on which reader ran: astropy reads the same pixel sample, scaled alike."""
    rng = numpy.random.default_rng(5)
    make_fits(tmp_path / "casa.fits", size=100)
    fits.PrimaryHDU(rng.normal(0, 0.002, (8, 300, 300)).astype("f4"),
                    _header(CTYPE3="FREQ", CRVAL3=2.3e11)).writeto(tmp_path / "sampled.fits")
    cube = rng.normal(0, 0.5, (3, 40, 50))
    cube[0, :5] = numpy.nan
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(cube, _header(BUNIT="Jy/beam", BMAJ=1e-4, BMIN=5e-5, BPA=3.0))]
                 ).writeto(tmp_path / "extension.fits")
    raw = rng.integers(-3000, 3000, (400, 300)).astype(">i2")  # 120k pixels: sampled, scaled, with blanks
    raw[:3] = -32768
    header = _header(SIMPLE=True, BITPIX=16, NAXIS=2, NAXIS1=300, NAXIS2=400, BSCALE=0.001, BZERO=0.5, BLANK=-32768)
    (tmp_path / "integers.fits").write_bytes(header.tostring().encode() + raw.tobytes() + bytes(-raw.nbytes % 2880))
    for name in ("casa", "sampled", "extension", "integers"):
        own, reference = summarize_fits(tmp_path / f"{name}.fits"), _summarize_with_astropy(tmp_path / f"{name}.fits")
        assert own is not None and own == reference, name


def test_files_read_a_few_at_once_give_what_each_gives_alone(tmp_path: Path) -> None:
    """Images, cubes, compressed ones (astropy, one at a time), broken ones: the same summary or reason, in order."""
    rng = numpy.random.default_rng(6)
    paths = []
    for n in range(3):
        make_fits(tmp_path / f"casa{n}.fits", size=60 + n)
        data = rng.normal(0, 1.0 + n, (32, 48)).astype("f4")
        fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, _header(BUNIT="Jy/beam"))]).writeto(tmp_path / f"c{n}.fits")
        paths += [tmp_path / f"casa{n}.fits", tmp_path / f"c{n}.fits"]
    (tmp_path / "empty.fits").touch()
    (tmp_path / "text.fits").write_text("not an image")
    (tmp_path / "cut.fits").write_bytes((tmp_path / "casa0.fits").read_bytes()[: 2880 * 3])
    paths += [tmp_path / name for name in ("empty.fits", "text.fits", "cut.fits")]

    def said(found: object) -> object:
        return ("problem", str(found)) if isinstance(found, FitsProblem) else found

    alone = [said(found) for found in read_summaries(paths, readers=1)]
    assert [said(found) for found in read_summaries(paths, readers=4)] == alone
    assert sum(isinstance(found, tuple) for found in alone) == 3 and all(alone[:6])


def _mad_by_two_sorts(values: list[float]) -> float:
    def median(ordered: list[float]) -> float:
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    centre = median(sorted(values))
    return 1.4826 * median(sorted(abs(v - centre) for v in values))


@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=32),
                          st.integers(-5, 5).map(float)), min_size=1, max_size=60))
def test_the_noise_from_one_sort_is_exactly_that_of_sorting_the_deviations(values: list[float]) -> None:
    assert _robust_rms(values) == _mad_by_two_sorts(values)


def test_the_noise_of_a_sample_with_ties_and_a_source() -> None:
    values = [0.0] * 7 + [1.0, -1.0, 2.0, 50.0, 50.0, -3.0, 0.5]
    assert _robust_rms(values) == _mad_by_two_sorts(values) and _robust_rms([]) is None
