"""Runs killed with SIGKILL at random moments: nothing is lost, and running again completes the work.

Each test runs the real command in a separate process and kills it at 20 moments spread over its
whole duration (start-up, scan, folders, transfers, manifest, ticket; tar parts and sidecars;
the delivery's verification and rename).  After each kill it checks that no file's content was
lost (for ``move``: every original file is at the origin or in the package), then runs the same
command again and compares origin and result, file by file, by checksum with an uninterrupted run.
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from processes import MOUS, PROJECT, checksums, contents, fresh_copy, killed_after, make_origin, run, timed
from qa2pack.delivery.layout import MARKER
from qa2pack.delivery.verify import verify_delivery, verify_tars
from qa2pack.formats.manifest import manifest_path

pytestmark = pytest.mark.minutes  # CI runs these on one Python only

KILLS = 20


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, templates) -> Iterator[SimpleNamespace]:
    base = tmp_path_factory.mktemp("killed")
    origin = make_origin(base / "orig", templates)
    facts = SimpleNamespace(origin=origin, origin_sums=checksums(origin), packages={}, durations={})
    for mode in ("copy", "hard", "move"):
        source = fresh_copy(origin, base / f"orig-{mode}" / "SB") if mode == "move" else origin
        packpath = base / f"ref-{mode}" / PROJECT
        facts.durations[mode] = timed(["package", source, packpath, "--mode", mode, "-q"])
        facts.packages[mode] = checksums(packpath)
    facts.package = base / "ref-copy" / PROJECT
    facts.durations["tarsplit"] = timed(["tarsplit", facts.package, "--output", base / "tars", "--mous-uid", MOUS,
                                         "-q"])
    facts.durations["deliver"] = timed(["deliver", facts.package, base / "delivery", "--mous-uid", MOUS, "-q"])
    yield facts


def moments(name: str, duration: float) -> list[float]:
    """Kill times spread over a run's whole duration (seeded: the same moments on every machine)."""
    rng = random.Random(f"qa2pack-kill-{name}")
    return sorted(rng.uniform(0.05, duration * 1.15) for _ in range(KILLS))


@pytest.mark.parametrize("mode", ["copy", "hard", "move"])
def test_a_killed_package_loses_nothing_and_the_next_run_completes_it(mode: str, world: SimpleNamespace,
                                                                     tmp_path: Path) -> None:
    original = Counter(world.origin_sums.values())
    for n, delay in enumerate(moments(mode, world.durations[mode])):
        origin = fresh_copy(world.origin, tmp_path / "orig" / "SB") if mode == "move" else world.origin
        packpath = tmp_path / f"run{n}" / PROJECT
        killed_after(["package", origin, packpath, "--mode", mode, "-q"], delay)
        if mode == "move":  # every file is either at the origin or in the package, exactly once
            found = Counter(contents(origin)) + Counter(contents(packpath) if packpath.exists() else [])
            assert not original - found, f"kill {n} at {delay:.2f} s lost files"
        finished = run(["package", origin, packpath, "--mode", mode, "-q"])
        assert finished.code == 0, f"kill {n} at {delay:.2f} s: {finished.stderr}"
        assert not (packpath / MARKER).exists()
        assert checksums(packpath) == world.packages[mode], f"kill {n} at {delay:.2f} s"
        assert checksums(origin) == world.origin_sums, f"kill {n} at {delay:.2f} s"  # through its links in move
        shutil.rmtree(packpath.parent)
        if mode == "move":
            shutil.rmtree(origin)


def test_a_killed_tarsplit_leaves_the_package_as_it_was_and_the_next_run_completes(world: SimpleNamespace,
                                                                                   tmp_path: Path) -> None:
    manifest = manifest_path(world.package)
    for n, delay in enumerate(moments("tarsplit", world.durations["tarsplit"])):
        output = tmp_path / f"tars{n}"
        killed_after(["tarsplit", world.package, "--output", output, "--mous-uid", MOUS, "-q"], delay)
        assert checksums(world.package) == world.packages["copy"]
        finished = run(["tarsplit", world.package, "--output", output, "--mous-uid", MOUS, "-q"])
        assert finished.code == 0, f"kill {n} at {delay:.2f} s: {finished.stderr}"
        assert not list(output.glob("*.partial"))
        assert verify_tars(sorted(output.glob("*.tar")), manifest).ok, f"kill {n} at {delay:.2f} s"
        shutil.rmtree(output)


def test_a_killed_deliver_leaves_no_half_delivery_and_the_next_run_completes(world: SimpleNamespace,
                                                                            tmp_path: Path) -> None:
    for n, delay in enumerate(moments("deliver", world.durations["deliver"])):
        dest = tmp_path / f"delivery{n}"
        killed = killed_after(["deliver", world.package, dest, "--mous-uid", MOUS, "-q"], delay)
        assert checksums(world.package) == world.packages["copy"]
        if dest.exists():  # the delivery appears whole or not at all
            assert killed.code == 0 or verify_delivery(dest).ok
        else:
            finished = run(["deliver", world.package, dest, "--mous-uid", MOUS, "-q"])
            assert finished.code == 0, f"kill {n} at {delay:.2f} s: {finished.stderr}"
        assert verify_delivery(dest, manifest_path(world.package)).ok, f"kill {n} at {delay:.2f} s"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "a partial delivery was left"
        shutil.rmtree(dest)
