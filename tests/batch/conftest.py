"""Fixtures of the batch tests: a delivery to check, and a real Dask scheduler with workers on 127.0.0.1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch_helpers import MOUS, DaskProcesses
from qa2pack.delivery.deliver import deliver
from qa2pack.delivery.uids import DeliveryNaming


@pytest.fixture
def delivery(copy_package: Path, tmp_path: Path) -> Path:
    """Project229's setup 3, delivered (tars, md5 sidecars, md5sums.txt)."""
    return deliver(copy_package, tmp_path / "delivered", max_size=300_000, naming=DeliveryNaming(mous_uid=MOUS)).dest


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[DaskProcesses]:
    folder = tmp_path / "dask"
    folder.mkdir()
    processes = DaskProcesses(folder)
    try:
        yield processes
    finally:
        processes.stop()
        shutil.rmtree(folder, ignore_errors=True)
