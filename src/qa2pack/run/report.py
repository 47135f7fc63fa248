"""What a run tells its user: a plan rendered as a tree, a run summary, and the JSON forms."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..core.model import Action, Finding, Kind, Op, Plan, Skipped
from ..core.record import field, record
from ..planning.readme import render_tree
from .progress import human_bytes


def _describe(action: Action) -> str:
    if action.op is Op.TEXT:
        return f"[generated, {human_bytes(action.size)}]  {action.rule}"
    if action.op is Op.ARCHIVE:
        sources = ", ".join(p.source or "" for p in action.parts)
        return f"[archive of {len(action.parts)}, {human_bytes(action.size)} uncompressed]  <- {sources}"
    what = action.kind.value
    if action.is_tree:
        what += f", {len(action.files)} files"
    return f"[{what}, {human_bytes(action.size)}]  <- {action.source}  ({action.rule})"


def _shown(value: str) -> str:
    return value or "''"


def render_plan(plan: Plan) -> str:
    """Render the plan for ``inspect``: each member as a tree, then what is left out, then warnings."""
    out = [
        f"Plan: {plan.origpath} -> {plan.packname} (mode {plan.mode.value}, style {_shown(plan.style.text)}, "
        f"append {_shown(plan.append.value)})",
        f"{len(plan.members)} member(s), {plan.total_files} files, {human_bytes(plan.total_size)}",
        "",
    ]
    for member in plan.members:
        uids = ", ".join(member.eb_uids)
        joined = " (joins the existing member)" if member.joins_existing else ""
        source = f"{plan.origpath.name} (origpath)" if member.source == "." else member.source
        out.append(f"{member.folder}  <- {source}{joined}")
        out.append(f"  EBs: {uids}")
        out.append(f"  EB folders: {', '.join(member.eb_folders)}")
        notes: dict[str, str] = {}
        entries: list[tuple[str, bool]] = []
        for action in member.actions:
            rel = f"{member.folder.name}/{action.target.relative_to(member.folder).as_posix()}"
            entries.append((rel, action.is_tree))
            notes[rel] = _describe(action)
        out.append(render_tree(entries, notes, counts=False))
    out += render_skipped(plan.skipped) + render_findings(plan.findings)
    return "\n".join(out).rstrip("\n") + "\n"


def render_skipped(skipped: Sequence[Skipped]) -> list[str]:
    """Render the 'not packaged' section (``inspect``, and ``package -v``)."""
    lines = [f"  {s.source}  [{s.kind.value}]  {s.reason}" for s in skipped] or ["  (nothing)"]
    return [f"Not packaged ({len(skipped)}):", *lines, ""]


def render_findings(findings: Sequence[Finding]) -> list[str]:
    """Render the 'warnings' section of ``inspect``."""
    lines = [f"  [{f.code}] {f.message}" for f in findings] or ["  (none)"]
    return [f"Warnings ({len(findings)}):", *lines, ""]


def action_to_json(action: Action) -> dict[str, Any]:
    """One action as plain JSON."""
    data: dict[str, Any] = {
        "target": action.target.as_posix(),
        "op": action.op.value,
        "kind": action.kind.value,
        "rule": action.rule,
        "size": action.size,
        "files": len(action.files) if action.op is Op.TRANSFER else 1,
    }
    if action.source is not None:
        data["source"] = action.source
    if action.eb_uid:
        data["eb_uid"] = action.eb_uid
    if action.parts:
        data["parts"] = [p.source for p in action.parts]
    return data


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """Return the whole plan as plain JSON (``inspect --json``)."""
    return {
        "origpath": str(plan.origpath),
        "package": plan.packname,
        "mode": plan.mode.value,
        "style": plan.style.text,
        "append": plan.append.value,
        "files": plan.total_files,
        "bytes": plan.total_size,
        "members": [
            {
                "folder": m.folder.as_posix(),
                "source": m.source,
                "eb_uids": list(m.eb_uids),
                "eb_folders": list(m.eb_folders),
                "joins_existing": m.joins_existing,
                "actions": [action_to_json(a) for a in m.actions],
            }
            for m in plan.members
        ],
        "not_packaged": [{"source": s.source, "kind": s.kind.value, "code": s.why.value, "reason": s.reason}
                         for s in plan.skipped],
        "warnings": [{"code": f.code.value, "message": f.message, "paths": list(f.paths)} for f in plan.findings],
    }


@record(frozen=False)
class RunReport:
    """The result of ``package`` (and the API's return value)."""

    plan: Plan
    packpath: Path
    files: int
    nbytes: int
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The warnings of the run."""
        return self.plan.findings

    @property
    def skipped(self) -> tuple[Skipped, ...]:
        """What was found but not packaged."""
        return self.plan.skipped

    def summary(self) -> str:
        """One sentence for the terminal and the log."""
        plan = self.plan
        links = sum(1 for s in plan.skipped if s.kind is Kind.LINK)
        return (
            f"{plan.mode.value}: {len(plan.members)} member(s), {self.files} files "
            f"({human_bytes(self.nbytes)}) in {self.packpath} in {self.seconds:.2f} s; "
            f"{len(plan.findings)} warning(s), {len(plan.skipped)} path(s) not packaged"
            + (f" ({links} symbolic links)" if links else "")
        )

    def to_json(self) -> dict[str, Any]:
        """Return the run as plain JSON (``package --json``)."""
        data = plan_to_json(self.plan)
        for member in data["members"]:
            member["files"] = sum(a["files"] for a in member["actions"])
            member["bytes"] = sum(a["size"] for a in member["actions"])
            del member["actions"]
        data.update({
            "packpath": str(self.packpath),
            "files": self.files,
            "bytes": self.nbytes,
            "seconds": round(self.seconds, 3),
            "summary": self.summary(),
            "outputs": self.outputs,
            "notes": self.notes,
        })
        return data
