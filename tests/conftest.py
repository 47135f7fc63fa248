"""Shared fixtures: real CASA tables built once per session, realistic trees per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from factories import SB3, project229_setup3
from qa2pack import Mode, PackageOptions, package
from qa2pack.analyst.casatables import TableTemplates, build_tree


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from the current output")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TableTemplates]:
    """One real table of each kind (python-casacore), copied by every test that needs one."""
    yield TableTemplates(tmp_path_factory.mktemp("templates"))


@pytest.fixture
def build(tmp_path: Path, templates: TableTemplates) -> Callable[..., Path]:
    """Build a layout (see ``qa2pack.analyst.casatables.build_tree``) below ``tmp_path / name``."""

    def make(layout: Mapping[str, str], name: str = "orig") -> Path:
        root = tmp_path / name
        root.mkdir(exist_ok=True)
        return build_tree(root, layout, templates)

    return make


@pytest.fixture
def copy_package(build: Callable[..., Path], tmp_path: Path) -> Path:
    """Project229's setup 3 packaged in copy mode: real bytes, a manifest with md5s."""
    sb3 = build(project229_setup3(), "project229") / SB3
    packpath = tmp_path / "pkg" / "2011.0.00229.S"
    package(sb3, packpath, PackageOptions(mode=Mode.COPY))
    return packpath


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


def _find_realdata() -> Path | None:
    candidates = [os.environ.get("QA2PACK_REALDATA", "")]
    here = Path(__file__).resolve().parent.parent
    candidates += [str(here.parent / "shared" / "realdata"), "/work/shared/realdata"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").is_file():
            return Path(candidate)
    return None


REALDATA = _find_realdata()


@pytest.fixture
def realdata() -> Path:
    """The read-only real-data corpus (``../shared/realdata``); tests that need it say so."""
    if REALDATA is None:
        pytest.skip("the shared real-data corpus is not present on this machine (set QA2PACK_REALDATA)")
    return REALDATA
