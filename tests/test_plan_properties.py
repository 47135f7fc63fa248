"""Properties of planning over random reduction trees: every path accounted for once, no target twice."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import eb
from qa2pack import plan_package
from qa2pack.analyst.casatables import TableTemplates, build_tree
from qa2pack.scan.probe import scan_tree

TEMPLATES = TableTemplates()
NAMES = ["scriptForImaging.py", "casapy.log", "ipython.log.txt", "qa2_part1.png", "textfile.txt", "checklist.txt",
         "image.fits", "notes.txt", "Titan.eph", "x.jpg", "README", "plot.png"]
FOLDERS = ["SB", "SB/X1", "SB/X2", "SB/X1/qa2", "SB/Combined", "SB/images", "other"]


@settings(derandomize=True, max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(files=st.lists(st.tuples(st.sampled_from(FOLDERS), st.sampled_from(NAMES)), max_size=25, unique=True))
def test_every_path_is_packaged_or_reported_once_and_targets_are_unique(files: list[tuple[str, str]]) -> None:
    layout = eb("SB/X1", "uid___A002_X50_X1") | eb("SB/X2", "uid___A002_X50_X2")
    layout.update({f"{folder}/{name}": "eph\n" if name.endswith(".eph") else name for folder, name in files})
    with tempfile.TemporaryDirectory() as tmp:
        root = build_tree(Path(tmp) / "o", layout, TEMPLATES)
        plan = plan_package(root)
        scan = scan_tree(root)
        reversed_root = build_tree(Path(tmp) / "r", dict(reversed(list(layout.items()))), TEMPLATES)
        again = plan_package(reversed_root)
    targets = [a.target for a in plan.actions]
    assert len(targets) == len(set(targets))  # no two actions share a target
    found = {f"{f.rel}/{e.name}".lstrip("/") for f in scan.tree.walk() for e in f.files}
    found |= {u.rel for f in scan.tree.walk() for u in f.units}
    sources = [a.source for a in plan.actions if a.source] + [s.source for s in plan.skipped]
    assert sorted(sources) == sorted(found)  # every path packaged or reported, exactly once
    assert [a.target for a in again.actions] == targets  # the input order never matters
