"""The conformance suite: the real code that consumes ALMA deliveries, run on qa2pack's own output.

The consumers are unmodified copies kept outside the repository (``../shared/conformance``, see its
``SOURCES.md``): the archive's ingest scripts (Python 2.7, as the archive runs them),
scriptForPI.py of 2014 (Python 2.7, CASA 4) and 2022 (Python 3, CASA 6), and the pipeline's PPR
reader, manifest and restore code.  Tests skip, saying why, only where that folder or a Python 2.7
interpreter is absent.
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _find_conformance() -> Path | None:
    candidates = [os.environ.get("QA2PACK_CONFORMANCE", ""), str(HERE.parents[2] / "shared" / "conformance"),
                  "/work/shared/conformance"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "SOURCES.md").is_file():
            return Path(candidate)
    return None


def _find_python2() -> str | None:
    candidates = [os.environ.get("QA2PACK_PYTHON2", "")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/2.7*/bin/python")), reverse=True)
    candidates += [shutil.which("python2.7") or "", shutil.which("python2") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


CONFORMANCE = _find_conformance()
PYTHON2 = _find_python2()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.conformance)


@pytest.fixture(scope="session")
def conformance() -> Path:
    """The folder of the real consumers (``../shared/conformance``)."""
    if CONFORMANCE is None:
        pytest.skip("the real consumers (../shared/conformance) are not on this machine (set QA2PACK_CONFORMANCE)")
    return CONFORMANCE


@pytest.fixture(scope="session")
def python2() -> str:
    """A Python 2.7 interpreter, for the archive's ingest scripts and scriptForPI.py of 2014."""
    if PYTHON2 is None:
        pytest.skip("no Python 2.7 interpreter here (set QA2PACK_PYTHON2); the archive's scripts need one")
    return PYTHON2
