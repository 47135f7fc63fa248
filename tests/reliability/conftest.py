"""The reliability suite: killed runs, concurrent runs, hostile tars and bad inputs, tried for real.

Everything here is marked ``reliability``: ``python -m pytest -m reliability`` runs it alone, and
the default test command (and CI) runs it with the rest.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
