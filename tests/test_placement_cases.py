"""Placement rules as data: each case in ``cases/placement`` is a small tree and the package it must give.

A case file (TOML) holds ``tree`` (origpath-relative path = content: text, or ``@ms``, ``@cal``,
``@asdm``, ``@fits``, ``@plots``, ... as :func:`~qa2pack.analyst.casatables.build_tree` makes
them), optional ``options`` (``mode``, ``style``, ``noms``, ``include_asdm``,
``gzip_caltables``), and what the plan must be: ``packaged`` (``target <- source``, targets
below the group folder) and ``not_packaged`` (``source: code``), both complete.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from qa2pack import Mode, PackageOptions, Style, plan_package
from qa2pack.core.model import Op, Plan

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CASES = sorted((Path(__file__).parent / "cases" / "placement").glob("*.toml"))
GROUP = "sg_ouss_id/group_ouss_id/"


def options_of(case: dict[str, Any]) -> PackageOptions:
    given = dict(case.get("options", {}))
    mode = Mode.parse(given.pop("mode", "fake"))
    style = Style.parse(given.pop("style", ""))
    return PackageOptions(mode=mode, style=style, **given)


def packaged(plan: Plan) -> list[str]:
    lines = []
    for action in plan.actions:
        if action.op is Op.TEXT:
            continue  # the README: its tests are elsewhere
        target = action.target.as_posix()
        target = target[len(GROUP):] if target.startswith(GROUP) else target
        if action.op is Op.ARCHIVE:
            lines.append(f"{target} <- " + ", ".join(sorted(part.source or "" for part in action.parts)))
        else:
            lines.append(f"{target} <- {action.source}")
    return sorted(lines)


def not_packaged(plan: Plan) -> list[str]:
    return sorted(f"{s.source}: {s.why.value}" for s in plan.skipped)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_placement_case(path: Path, build) -> None:
    case = tomllib.loads(path.read_text(encoding="utf-8"))
    plan = plan_package(build(case["tree"]), options_of(case))
    assert packaged(plan) == sorted(case["packaged"])
    assert not_packaged(plan) == sorted(case.get("not_packaged", []))


def test_there_are_cases_for_every_rule() -> None:
    assert len(CASES) >= 10
