"""Two runs at once on one package, delivery or restore folder: one runs, the other stops or waits.

The issue this answers: two ``package --mode move`` runs on one packpath lost thousands of files.
Each test starts two real processes a random moment apart (seeded), waits for both, and checks
that one finished while the other stopped at once naming it (or both finished, one after the
other, when they did not meet), and that origin and result are exactly those of one run alone.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from processes import MOUS, PROJECT, Finished, checksums, fresh_copy, make_origin, qa2pack, run
from qa2pack.delivery.layout import MARKER
from qa2pack.delivery.verify import verify_delivery, verify_package, verify_tars
from qa2pack.formats.manifest import manifest_path

pytestmark = pytest.mark.minutes  # CI runs these on one Python only

TRIALS = 3
BUSY = "is in use by 'qa2pack"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, templates) -> Iterator[SimpleNamespace]:
    base = tmp_path_factory.mktemp("concurrent")
    origin = make_origin(base / "orig", templates)
    facts = SimpleNamespace(base=base, origin=origin, origin_sums=checksums(origin), packages={})
    for mode in ("copy", "hard", "move", "fake", "ticket", "manimgonly"):
        source = fresh_copy(origin, base / f"orig-{mode}" / "SB") if mode == "move" else origin
        packpath = base / f"ref-{mode}" / PROJECT
        assert run(["package", source, packpath, "--mode", mode, "-q"]).code == 0
        facts.packages[mode] = checksums(packpath)
    facts.package = base / "ref-copy" / PROJECT
    yield facts


def both(first: list[object], second: list[object], offset: float) -> tuple[Finished, Finished]:
    """Start two runs ``offset`` seconds apart and wait for both."""
    one = qa2pack(first)
    time.sleep(offset)
    two = qa2pack(second)
    out1, err1 = one.communicate(timeout=300)
    out2, err2 = two.communicate(timeout=300)
    return Finished(one.returncode, out1, err1), Finished(two.returncode, out2, err2)


def assert_one_ran(runs: tuple[Finished, Finished]) -> None:
    codes = sorted(r.code for r in runs)
    assert codes in ([0, 0], [0, 2]), "\n".join(f"exit {r.code}:\n{r.stderr}" for r in runs)  # a str: shown whole
    for finished in runs:
        if finished.code == 2:  # stopped at once, in one line naming the holder
            *warnings, error = finished.stderr.splitlines()
            assert BUSY in error and "process" in error and all(w.startswith("warning: ") for w in warnings)


def offsets(name: str) -> list[float]:
    rng = random.Random(f"qa2pack-two-runs-{name}")
    return [0.0] + [rng.uniform(0.0, 1.0) for _ in range(TRIALS - 1)]


@pytest.mark.parametrize("mode", ["copy", "hard", "move", "fake", "ticket", "manimgonly"])
def test_two_packages_into_one_packpath(mode: str, world: SimpleNamespace, tmp_path: Path) -> None:
    for n, offset in enumerate(offsets(mode)):
        origin = fresh_copy(world.origin, tmp_path / "orig" / "SB") if mode == "move" else world.origin
        packpath = tmp_path / f"run{n}" / PROJECT
        args = ["package", origin, packpath, "--mode", mode, "-q"]
        assert_one_ran(both(args, args, offset))
        assert not (packpath / MARKER).exists()
        assert checksums(packpath) == world.packages[mode], f"trial {n}, {offset:.2f} s apart"
        assert checksums(origin) == world.origin_sums
        if mode in ("copy", "hard", "move"):
            assert verify_package(packpath).ok
        shutil.rmtree(packpath.parent)
        if mode == "move":
            shutil.rmtree(origin)


def test_a_move_and_a_copy_of_one_origin_never_meet(world: SimpleNamespace, tmp_path: Path) -> None:
    for n, offset in enumerate(offsets("move-copy")):
        origin = fresh_copy(world.origin, tmp_path / "orig" / "SB")
        moved, copied = tmp_path / f"m{n}" / PROJECT, tmp_path / f"c{n}" / PROJECT
        runs = both(["package", origin, moved, "--mode", "move", "-q"],
                    ["package", origin, copied, "--mode", "copy", "-q"], offset)
        assert_one_ran(runs)
        assert checksums(origin) == world.origin_sums  # the origin lost nothing, whichever ran
        if runs[0].code == 0:
            assert checksums(moved) == world.packages["move"]
        if runs[1].code == 0 and "[moved-away]" in runs[1].stderr:  # it started after the move had ended
            assert runs[0].code == 0 and str(moved) in runs[1].stderr
        elif runs[1].code == 0:
            assert checksums(copied) == world.packages["copy"]
        shutil.rmtree(origin)


def test_waiting_runs_both_finish(world: SimpleNamespace, tmp_path: Path) -> None:
    packpath = tmp_path / "run" / PROJECT
    args = ["package", world.origin, packpath, "--mode", "hard", "-q", "--wait"]
    runs = both(args, args, 0.1)
    assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
    assert checksums(packpath) == world.packages["hard"]


def test_two_tarsplits_into_one_folder(world: SimpleNamespace, tmp_path: Path) -> None:
    for n, offset in enumerate(offsets("tarsplit")):
        output = tmp_path / f"tars{n}"
        args = ["tarsplit", world.package, "--output", output, "--mous-uid", MOUS, "-q"]
        assert_one_ran(both(args, args, offset))
        assert not list(output.glob("*.partial"))
        assert verify_tars(sorted(output.glob("*.tar")), manifest_path(world.package)).ok


def test_a_package_replaced_while_a_tarsplit_reads_it(world: SimpleNamespace, tmp_path: Path) -> None:
    packpath = tmp_path / "pkg" / PROJECT
    assert run(["package", world.origin, packpath, "--mode", "copy", "-q"]).code == 0
    for n, offset in enumerate(offsets("tarsplit-package")):
        output = tmp_path / f"tars{n}"
        runs = both(["tarsplit", packpath, "--output", output, "--mous-uid", MOUS, "-q"],
                    ["package", world.origin, packpath, "--mode", "copy", "-q"], offset)
        assert_one_ran(runs)
        if runs[0].code == 0:
            assert verify_tars(sorted(output.glob("*.tar")), manifest_path(packpath)).ok
        assert checksums(packpath) == world.packages["copy"] and verify_package(packpath).ok


def test_two_deliveries_into_one_folder(world: SimpleNamespace, tmp_path: Path) -> None:
    for n, offset in enumerate(offsets("deliver")):
        dest = tmp_path / f"delivery{n}"
        args = ["deliver", world.package, dest, "--mous-uid", MOUS, "-q"]
        runs = both(args, args, offset)
        codes = sorted(r.code for r in runs)
        # The second finds DEST locked (2), or already delivered by the first (2, 'exists already').
        assert codes == [0, 2], [(r.code, r.stderr) for r in runs]
        assert verify_delivery(dest, manifest_path(world.package)).ok


def test_two_restores_into_one_folder(world: SimpleNamespace, tmp_path: Path) -> None:
    delivery = world.base / "delivery-for-restore"
    if not delivery.exists():
        assert run(["deliver", world.package, delivery, "--mous-uid", MOUS, "-q"]).code == 0
    for n, offset in enumerate(offsets("restore")):
        into = tmp_path / f"restore{n}"
        args = ["restore-prep", delivery, "--into", into, "-q"]
        runs = both(args, args, offset)
        codes = sorted(r.code for r in runs)
        assert codes == [0, 2], [(r.code, r.stderr) for r in runs]  # locked, or nothing left to unpack
        assert not (into / ".qa2pack-restore-incomplete").exists()
        assert sorted(checksums(into / PROJECT).values()) == sorted(world.packages["copy"].values())
