"""The library configures no logging; each run still writes its whole account to its log file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from factories import SB3, project229_setup3
from qa2pack import Mode, PackageOptions, package


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_handler():
    """A caller's own logging set-up: a handler on the root logger that takes every level it is given."""
    handler = Collect()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


def test_a_run_leaves_logging_as_it_found_it(build, tmp_path: Path, root_handler: Collect) -> None:
    library = logging.getLogger("qa2pack")
    before = (library.level, list(library.handlers), library.propagate, logging.getLogger().level)
    report = package(build(project229_setup3(), "p") / SB3, tmp_path / "2011.0.00229.S", PackageOptions(mode=Mode.FAKE))
    assert (library.level, list(library.handlers), library.propagate, logging.getLogger().level) == before
    # The caller kept the root at WARNING: nothing below it reached the caller's handler ...
    assert root_handler.records and all(r.levelno >= logging.WARNING for r in root_handler.records)
    # ... while the run's log file holds the whole account, every path not packaged included.
    text = Path(report.outputs["log"]).read_text()
    assert "packaging" in text and "not packaged:" in text and report.summary() in text
    assert len([line for line in text.splitlines() if "not packaged:" in line]) == len(report.plan.skipped)


def test_a_caller_who_asks_for_more_gets_it(build, tmp_path: Path, root_handler: Collect) -> None:
    library = logging.getLogger("qa2pack")
    library.setLevel(logging.DEBUG)
    try:
        report = package(build(project229_setup3(), "p") / SB3, tmp_path / "2011.0.00229.S")
    finally:
        library.setLevel(logging.NOTSET)
    details = [r for r in root_handler.records if r.getMessage().startswith("not packaged:")]
    assert len(details) == len(report.plan.skipped) > 0
    text = Path(report.outputs["log"]).read_text()
    assert text.count("not packaged:") == len(report.plan.skipped)  # each written once, not twice
