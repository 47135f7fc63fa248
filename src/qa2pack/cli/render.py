"""What the command line prints: plain lines on a terminal, or one JSON document with ``--json``.

Every JSON document carries ``schema`` (:data:`JSON_SCHEMA`) and ``command``: a consumer checks the
schema and knows the fields; new fields may be added within a schema version, none removed or
changed in meaning.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

from ..run.progress import human_bytes

JSON_SCHEMA = "qa2pack/1"


def command_of(args: argparse.Namespace) -> str:
    """Return the command that ran, as typed (``workspace clear`` for the workspace actions)."""
    action = getattr(args, "action", None)
    return f"{args.command} {action}" if action else str(getattr(args, "command", ""))


def out(args: argparse.Namespace, text: str) -> None:
    """Print a line for the terminal (nothing in ``--json`` mode)."""
    if not getattr(args, "json", False):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def say(args: argparse.Namespace, text: str) -> None:
    """Print a line of account that ``--quiet`` leaves out."""
    if not getattr(args, "quiet", False):
        out(args, text)


def emit_json(command: str, data: dict[str, Any]) -> None:
    """Print one JSON document, stamped with the schema version and the command."""
    document = {"schema": JSON_SCHEMA, "command": command, **data}
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def print_outputs(args: argparse.Namespace, outputs: dict[str, str]) -> None:
    """Print what a run wrote, one ``name: path`` line each."""
    for key, value in outputs.items():
        say(args, f"{key:>10}: {value}")


def print_tars(args: argparse.Namespace, tars: list[tuple[str, str, int]]) -> None:
    """Print one ``md5  tar  (size)`` line per tar, as ``md5sum`` would, with the size."""
    for name, md5, size in tars:
        say(args, f"{md5}  {name}  ({human_bytes(size)})")


def print_verify(args: argparse.Namespace, report: Any) -> None:
    """Print verify's findings: grouped by member, or every path with ``-v``; then the verdict."""
    lines = [(p.kind.value, p.path, p.message) for p in report.problems] if args.verbose else report.grouped()
    for kind, path, message in lines:
        out(args, f"{kind:>9}  {path}: {message}")
    for note in report.notes:
        say(args, f"     note  {note}")
    (say if report.ok else out)(args, report.summary())


def print_restore(args: argparse.Namespace, report: Any) -> None:
    """Print what restore-prep unpacked and checked, and the command to run next."""
    for note in report.notes:
        say(args, note)
    for member in report.members:
        if not member.calibrated_delivered:
            say(args, f"{member.folder}: {len(member.asdms)} ASDM(s) in raw/ for {len(member.named_ebs)} EB(s) named "
                      f"by the scripts ({'pipeline' if member.pipeline else 'analyst'} calibration)")
    for ppr in report.pprs:
        say(args, f"restore PPR written: {ppr}")
    if report.commands:
        say(args, f"scriptForPI.py will need about {human_bytes(report.needed)} (SPACESAVING={report.spacesaving}); "
                  f"{human_bytes(report.free)} are free")
        say(args, "next:")
        for command in report.commands:
            say(args, f"  {command}")


def print_download(args: argparse.Namespace, report: Any) -> None:
    """Print what ``workspace download`` fetched and checked, and every file that failed."""
    for name in report.fetched:
        resumed = report.resumed.get(name)
        say(args, f"fetched  {name}" + (f" (resumed {resumed} time(s) after the transfer dropped)" if resumed else ""))
    for name in report.kept:
        say(args, f"kept     {name} (there already)")
    for name in report.checked:
        say(args, f"md5 ok   {name}")
    for name in report.unpacked:
        say(args, f"unpacked {name}")
    for name, why in report.failed.items():
        out(args, f"FAILED   {name}: {why}")


def print_start(args: argparse.Namespace, report: Any) -> None:
    """Print what ``workspace start`` created and left alone (or the SBs to choose from)."""
    if report.choices:
        out(args, "several SB folders here; give one of them:")
        for path in report.choices:
            out(args, f"  qa2pack workspace start {path.name}")
        return
    for path in report.created:
        say(args, f"created  {path}")
    for path in report.kept:
        say(args, f"kept     {path} (exists already)")


def print_clear_plan(args: argparse.Namespace, plan: Any) -> None:
    """Print what ``workspace clear`` keeps and removes, before it asks."""
    out(args, "Keeping the following files:")
    for path in plan.keep:
        out(args, f"  - {path.name}")
    out(args, f"Removing {len(plan.remove)} entries ({human_bytes(sum(plan.sizes.values()))}):")
    for path in plan.remove:
        out(args, f"  - {path.name}")


def print_links(args: argparse.Namespace, report: Any) -> None:
    """Print what ``workspace fluxequal-start`` linked and left alone."""
    for link in report.linked:
        say(args, f"linked   {link.name} -> {os.readlink(link)}")
    for link in report.existing:
        say(args, f"kept     {link.name} (exists already)")


class TerminalFormatter(logging.Formatter):
    """Log records as the terminal shows them: warnings marked, the rest as they are."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the line the terminal shows for a record."""
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message
