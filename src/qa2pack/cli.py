"""The ``qa2pack`` command: argument parsing, terminal output, exit codes.

The only module that reads argv, prints, or returns exit codes.  Every user mistake arrives
here as a :class:`~qa2pack.errors.Qa2packError` and leaves as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .config import load_config
from .errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED_MIDRUN,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_VERIFY_FAILED,
    InputError,
    Qa2packError,
    UsageError,
    exit_code_for,
    tracking_writes,
)
from .layout import DeliveryNaming, OusUids
from .model import Append, Mode, Style
from .naming import normalize_uid
from .options import PackageOptions
from .progress import human_bytes, make_progress

log = logging.getLogger("qa2pack")

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), raised as UsageError."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("qa2pack").strip()
        where = f" {command}" if command else ""
        raise UsageError(f"{message} (see qa2pack{where} --help)")


class _TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


def _out(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _print_outputs(args: argparse.Namespace, outputs: dict[str, str]) -> None:
    """Print what a run wrote, one ``name: path`` line each (nothing with --quiet)."""
    if not args.quiet:
        for key, value in outputs.items():
            _out(args, f"{key:>10}: {value}")


# -- shared options ------------------------------------------------------------------------


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="wait for another qa2pack run that holds the same folder, instead of stopping")


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (no progress)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on the terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every path not packaged")


def _add_packaging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", default="fake", metavar="MODE", help="fake (default), copy, hard, move, ticket or manimgonly")
    parser.add_argument("--style", default="", metavar="STYLE",
                        help="'' (default), cycle0, cycle1, cycleN-nopipe, cycle2-pipe1, cycleN-pipe ...")
    parser.add_argument("--append", default="", metavar="APPEND",
                        help="'' (replace a package made by qa2pack), group, member or product")
    parser.add_argument("--readme", type=Path, metavar="FILE", help="header text of every member README")
    parser.add_argument("--gzip-caltables", action="store_true",
                        help="deliver each <EB>.calibration folder as <EB>.calibration.tgz")
    parser.add_argument("--pi-script", type=Path, metavar="FILE", help="copied into script/ as scriptForPI.py")
    parser.add_argument("--noms", action="store_true", help="do not package MSs (raw/ and calibrated/)")
    parser.add_argument("--include-asdm", action="store_true", help="package ASDMs into raw/")
    parser.add_argument("--follow-links", action="store_true",
                        help="follow symbolic links to folders inside origpath")
    parser.add_argument("--checksums", action="store_true",
                        help="md5 every file in hard and move modes too (reads all the data)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file overriding placement rules")
    _add_uids(parser)


def _add_naming(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mous-uid", metavar="UID",
                        help="the MOUS uid of the package's only member (uid://A001/X1284/X1ef2): the tars and the "
                             "ticket are named after it while the folders keep their placeholders")
    parser.add_argument("--uid-map", type=Path, metavar="FILE",
                        help="a file of 'FOLDER UID' lines naming the uid of each member (and group) folder")
    parser.add_argument("--placeholder-names", action="store_true",
                        help="name tars after placeholder folders when no uid is known (the archive cannot ingest them)")
    parser.add_argument("--any-project-name", action="store_true",
                        help="split a package whose folder is not named by a project code")


def _add_uids(parser: argparse.ArgumentParser) -> None:
    uids = parser.add_mutually_exclusive_group()
    uids.add_argument("--ous-uids", metavar="SG,GROUP,MEMBER",
                      help="name the levels science_goal.uid___.../group.uid___.../member.uid___... "
                           "(uids as uid://A001/X1/X2 or uid___A001_X1_X2)")
    uids.add_argument("--ppr", type=Path, metavar="F", help="take the three OUS uids from this PPR")


def ous_uids_from_args(args: argparse.Namespace) -> OusUids | None:
    """Parse ``--ous-uids SG,GROUP,MEMBER`` or read them from ``--ppr``."""
    if getattr(args, "ous_uids", None):
        parts = [p for p in args.ous_uids.split(",") if p.strip()]
        if len(parts) != 3:
            raise UsageError("--ous-uids needs three uids: SCIENCE_GOAL,GROUP,MEMBER")
        return OusUids(*(normalize_uid(p) for p in parts))
    if getattr(args, "ppr", None):
        from .ppr import read_ppr

        request = read_ppr(args.ppr)
        if not (request.sous and request.gous):
            raise UsageError(f"{args.ppr} names no SOUS/GOUS (its RelativePath); give them with --ous-uids")
        return OusUids(request.sous, request.gous, request.mous)
    return None


def options_from_args(args: argparse.Namespace) -> PackageOptions:
    """Turn parsed CLI arguments into typed options (validating every value)."""
    return PackageOptions(
        mode=Mode.parse(getattr(args, "mode", "fake")),
        style=Style.parse(args.style),
        append=Append.parse(args.append),
        readme=args.readme,
        gzip_caltables=args.gzip_caltables,
        pi_script=args.pi_script,
        noms=args.noms,
        include_asdm=args.include_asdm,
        follow_links=args.follow_links,
        checksums=args.checksums,
        config=load_config(args.config),
        ous_uids=ous_uids_from_args(args),
    )


# -- commands -------------------------------------------------------------------------------


def cmd_package(args: argparse.Namespace) -> int:
    """Package a reduction folder."""
    from .api import package
    from .report import render_skipped

    options = options_from_args(args)
    progress = make_progress(args.json, args.quiet)
    report = package(args.origpath, args.packpath, options, progress, wait=args.wait)
    if args.json:
        _emit_json(report.to_json())
        return EXIT_OK
    if args.verbose:
        _out(args, "\n".join(render_skipped(report.skipped)))
    _print_outputs(args, report.outputs)
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    """Show the plan without writing anything."""
    from .api import plan_package
    from .probe import read_package_state
    from .report import plan_to_json, render_plan

    options = options_from_args(args)
    state = None
    if args.packpath is not None:
        state = read_package_state(Path(args.packpath), with_listing=options.append is Append.PRODUCT)
    plan = plan_package(args.origpath, options, args.packpath, state)
    if args.json:
        _emit_json(plan_to_json(plan))
    else:
        _out(args, render_plan(plan))
    return EXIT_OK


def cmd_stage(args: argparse.Namespace) -> int:
    """Stage an ALMA Science Pipeline run as a delivery-style package."""
    from .api import stage

    report = stage(args.pipeline_root, args.staged_root, Mode.parse(args.mode), args.pi_script, args.pipe_readme,
                   ous_uids_from_args(args), args.real_uids, make_progress(args.json, args.quiet), wait=args.wait)
    if args.json:
        _emit_json(report.to_json())
    else:
        _print_outputs(args, report.outputs)
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    """Print the effective placement configuration as TOML."""
    sys.stdout.write(load_config(args.config).to_toml())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the project229 demo tree with real CASA tables and package it."""
    from .demo import run_demo

    progress = make_progress(args.json, args.quiet)
    result = run_demo(Path(args.dir), Mode.parse(args.mode), progress)
    if args.json:
        _emit_json(result)
    else:
        _out(args, result["text"])
    return EXIT_OK


def naming_from_args(args: argparse.Namespace) -> DeliveryNaming:
    """Turn ``--mous-uid``, ``--uid-map``, ``--placeholder-names`` and ``--any-project-name`` into naming rules."""
    from .layout import read_uid_map

    return DeliveryNaming(
        mous_uid=normalize_uid(args.mous_uid) if args.mous_uid else None,
        uid_map=read_uid_map(args.uid_map) if args.uid_map else (),
        placeholder_names=args.placeholder_names,
        any_project_name=args.any_project_name,
    )


def cmd_tarsplit(args: argparse.Namespace) -> int:
    """Split a package into delivery tar files with md5 sidecars."""
    from .tarsplit import parse_size, refuse_fake_package, tarsplit

    packpath = Path(args.packpath)
    refuse_fake_package(packpath, args.fake_ok)
    output = Path(args.output) if args.output else packpath.absolute().parent
    result = tarsplit(packpath, output, parse_size(args.max_size), args.member, make_progress(args.json, args.quiet),
                      naming_from_args(args), wait=args.wait)
    if args.json:
        _emit_json({"tars": [{"path": str(p), "md5": md5, "size": size} for p, md5, size in result.tars],
                    "warnings": result.warnings})
        return EXIT_OK
    if not args.quiet:
        for path, md5, size in result.tars:
            _out(args, f"{md5}  {path}  ({human_bytes(size)})")
    return EXIT_OK


def _print_verify(args: argparse.Namespace, report: Any) -> int:
    if args.json:
        _emit_json(report.to_json())
    else:
        lines = [(p.kind, p.path, p.message) for p in report.problems] if args.verbose else report.grouped()
        for kind, path, message in lines:
            _out(args, f"{kind:>9}  {path}: {message}")
        for note in report.notes:
            _out(args, f"     note  {note}")
        _out(args, report.summary())
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a package folder, or delivery tars, like the archive's ingest."""
    from .verify import is_delivery, verify_delivery, verify_package, verify_tars

    paths = [Path(p) for p in args.paths]
    config = load_config(args.config)
    progress = make_progress(args.json, args.quiet)
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing and len(paths) == 1:
        raise InputError(f"does not exist: {missing[0]}")
    if len(paths) == 1 and is_delivery(paths[0]):
        report = verify_delivery(paths[0], args.manifest, config, args.expect_uids, args.fake_ok, progress,
                                 wait=args.wait)
    elif len(paths) == 1 and paths[0].is_dir():
        report = verify_package(paths[0], args.manifest, config, not args.no_checksums, args.expect_uids,
                                args.fake_ok, progress, wait=args.wait)
    elif all(p.suffix == ".tar" for p in paths):
        report = verify_tars(paths, args.manifest, config, args.expect_uids, args.fake_ok, progress, wait=args.wait)
    else:
        raise UsageError("give one package folder, or one or more .tar files")
    return _print_verify(args, report)


def cmd_deliver(args: argparse.Namespace) -> int:
    """Tarsplit + verify + md5sums.txt into DEST, all or nothing."""
    from .deliver import deliver
    from .tarsplit import parse_size

    packpath = Path(args.packpath)
    report = deliver(packpath, Path(args.dest), parse_size(args.max_size), args.fake_ok,
                     make_progress(args.json, args.quiet), naming_from_args(args), wait=args.wait)
    if args.json:
        _emit_json({"dest": str(report.dest), "tars": [{"name": n, "md5": m, "size": s} for n, m, s in report.tars],
                    "warnings": report.warnings})
    else:
        for name, md5, size in report.tars:
            _out(args, f"{md5}  {name}  ({human_bytes(size)})")
        _out(args, f"delivered {len(report.tars)} verified tar(s) and md5sums.txt into {report.dest}")
    return EXIT_OK


def cmd_restore_prep(args: argparse.Namespace) -> int:
    """Unpack delivered data for scriptForPI.py and check it first."""
    from .restore import restore_prep

    report = restore_prep([Path(p) for p in args.inputs], Path(args.into), args.spacesaving, args.write_ppr,
                          make_progress(args.json, args.quiet), wait=args.wait)
    if args.json:
        _emit_json(report.to_json())
        return EXIT_OK
    for note in report.notes:
        _out(args, note)
    for member in report.members:
        if member.calibrated_delivered:
            continue
        _out(args, f"{member.folder}: {len(member.asdms)} ASDM(s) in raw/ for {len(member.named_ebs)} EB(s) named "
                   f"by the scripts ({'pipeline' if member.pipeline else 'analyst'} calibration)")
    for ppr in report.pprs:
        _out(args, f"restore PPR written: {ppr}")
    if report.commands:
        _out(args, f"scriptForPI.py will need about {human_bytes(report.needed)} (SPACESAVING={report.spacesaving}); "
                   f"{human_bytes(report.free)} are free")
        _out(args, "next:")
        for command in report.commands:
            _out(args, f"  {command}")
    return EXIT_OK


def cmd_workspace_start(args: argparse.Namespace) -> int:
    """Create an SB's QA2 working tree."""
    from .workspace import start

    report = start(Path(args.sb_dir), Path(args.asdm_dir) if args.asdm_dir else None, args.project, args.move,
                   wait=args.wait)
    if args.json:
        _emit_json({"reduction": str(report.reduction), "eb_folders": {k: str(v) for k, v in report.eb_folders.items()},
                    "created": [str(p) for p in report.created], "kept": [str(p) for p in report.kept]})
        return EXIT_OK
    for path in report.created:
        _out(args, f"created  {path}")
    for path in report.kept:
        _out(args, f"kept     {path} (exists already)")
    return EXIT_OK


def cmd_workspace_clear(args: argparse.Namespace) -> int:
    """Clear an EB folder back to its ASDM and calibration script."""
    from .workspace import apply_clear, plan_clear

    plan = plan_clear(Path(args.eb_dir))
    if not args.json:
        _out(args, "Keeping the following files:")
        for path in plan.keep:
            _out(args, f"  - {path.name}")
        _out(args, f"Removing {len(plan.remove)} entries ({human_bytes(sum(plan.sizes.values()))}):")
        for path in plan.remove:
            _out(args, f"  - {path.name}")
    if not plan.remove:
        return EXIT_OK
    if not args.yes:
        if args.json or not sys.stdin.isatty():
            raise UsageError("clear deletes files: confirm on a terminal, or pass --yes")
        if input("Continue? (y/[N]) ").strip().lower() not in ("y", "yes"):
            _out(args, "Nothing was removed.")
            return EXIT_OK
    apply_clear(plan, wait=args.wait)
    if args.json:
        _emit_json({"folder": str(plan.folder), "kept": [p.name for p in plan.keep],
                    "removed": [p.name for p in plan.remove]})
    else:
        _out(args, "Deleting files ... done")
    return EXIT_OK


def cmd_workspace_fluxequal(args: argparse.Namespace) -> int:
    """Link the EBs' calibrated MSs and fluxscale files into calibrated/."""
    from .workspace import fluxequal_start

    report = fluxequal_start(Path(args.sb_dir), wait=args.wait)
    if args.json:
        _emit_json({"calibrated": str(report.calibrated), "linked": [p.name for p in report.linked],
                    "existing": [p.name for p in report.existing]})
        return EXIT_OK
    for link in report.linked:
        _out(args, f"linked   {link.name} -> {os.readlink(link)}")
    for link in report.existing:
        _out(args, f"kept     {link.name} (exists already)")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every subcommand."""
    parser = _Parser(
        prog="qa2pack",
        description="Package an ALMA QA2 reduction into the standard ALMA delivery, stage pipeline output, "
                    "split deliveries into tar files, verify them and prepare restores.",
    )
    parser.add_argument("--version", action="version", version=f"qa2pack {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    sub = commands.add_parser("package", help="package a reduction folder (ORIGPATH) into PACKPATH",
                              description="Package ORIGPATH into PACKPATH (named after the project code). "
                                          "The default mode, fake, writes empty files: look, then rerun "
                                          "with --mode hard.")
    sub.add_argument("origpath", help="the reduction folder (one SB, or a parent of several)")
    sub.add_argument("packpath", help="the package folder, named by the project code (e.g. 2011.0.00229.S)")
    _add_packaging(sub)
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_package)

    sub = commands.add_parser("inspect", help="show what package would do, writing nothing",
                              description="Show the plan as a tree: every file and where it goes and why, "
                                          "what is not packaged, and the warnings. Writes nothing.")
    sub.add_argument("origpath", help="the reduction folder")
    sub.add_argument("packpath", nargs="?", help="optional: the package the plan is for (for --append)")
    _add_packaging(sub)
    _add_common(sub)
    sub.set_defaults(run=cmd_inspect)

    sub = commands.add_parser("stage", help="stage an ALMA Science Pipeline run as a delivery-style package",
                              description="Map what the pipeline's export step wrote into products/ into "
                                          "STAGED_ROOT/sg_ouss_id/group_ouss_id/member_ouss_id/{calibration,qa,script,"
                                          "product,log,README}. PIPELINE_ROOT is the run, its MOUS folder or "
                                          "its products/ folder.")
    sub.add_argument("pipeline_root", help="the pipeline run folder (or its MOUS folder, or products/)")
    sub.add_argument("staged_root", help="the staged package folder (named by the project code)")
    sub.add_argument("--mode", default="fake", help="hard, copy or fake (default fake)")
    sub.add_argument("--pi-script", type=Path, metavar="F", help="copied into script/ as scriptForPI.py")
    sub.add_argument("--pipe-readme", type=Path, metavar="F", help="the pipeline README header")
    sub.add_argument("--real-uids", action="store_true", help="name the levels by the run's SOUS/GOUS/MOUS uids")
    _add_uids(sub)
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_stage)

    sub = commands.add_parser("config", help="print the placement configuration as TOML",
                              description="Print the default placement rules (or those of --config FILE) as "
                                          "TOML; save, edit and pass back with --config.")
    sub.add_argument("--config", type=Path, metavar="FILE", help="a TOML file to merge over the defaults")
    sub.set_defaults(run=cmd_config, json=False)

    sub = commands.add_parser("demo", help="build a realistic reduction tree and package it",
                              description="Build the project229 example of the QA2 wiki (real CASA tables, "
                                          "ASDMs, QA2 plots, logs, scripts, a FITS image) in DIR and package "
                                          "it (fake mode by default).")
    sub.add_argument("dir", nargs="?", default="qa2pack-demo", help="where to build it (default ./qa2pack-demo)")
    sub.add_argument("--mode", default="fake", help="packaging mode for the demo (default fake)")
    _add_common(sub)
    sub.set_defaults(run=cmd_demo)

    sub = commands.add_parser("tarsplit", help="split a package into delivery tar files",
                              description="Write <Project>_<MOUS>_<mmm>_of_<nnn>.tar per member (and "
                                          "<Project>_<GOUS>_... for group-level products), no part over --max-size, "
                                          "no file split, each with a <tar>.md5sum sidecar.")
    sub.add_argument("packpath", help="the package folder (named by the project code)")
    sub.add_argument("--max-size", default="50GB", help="largest tar (default 50GB; 500MB, 2GiB, bytes ...)")
    sub.add_argument("--output", metavar="DIR", help="where the tars go (default: beside the package)")
    sub.add_argument("--member", action="append", default=[], metavar="NAME",
                     help="only this member (folder name or uid); repeatable")
    sub.add_argument("--fake-ok", action="store_true", help="split a fake/ticket package anyway")
    _add_naming(sub)
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_tarsplit)

    sub = commands.add_parser("verify", help="check a package or delivery tars like the archive's ingest",
                              description="Check a package folder (or delivery tars) against its manifest and the "
                                          "archive's ingest rules. Exit 0 only when everything holds; 1 otherwise.")
    sub.add_argument("paths", nargs="+", metavar="PACKPATH|TAR", help="a package folder, or .tar files")
    sub.add_argument("--manifest", type=Path, metavar="F",
                     help="manifest to compare with (default: the one beside the package)")
    sub.add_argument("--no-checksums", action="store_true", help="compare sizes only (do not read the data)")
    sub.add_argument("--expect-uids", action="store_true", help="require real uids in every level folder name")
    sub.add_argument("--fake-ok", action="store_true", help="accept a fake/ticket package (names only)")
    sub.add_argument("--config", type=Path, metavar="FILE", help="TOML placement rules (folder names)")
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_verify)

    sub = commands.add_parser("deliver", help="tarsplit, verify and md5sums.txt into DEST, all or nothing",
                              description="Split PACKPATH into tars in a hidden folder beside DEST, verify them, "
                                          "write md5sums.txt and rename the folder to DEST only then.")
    sub.add_argument("packpath", help="the package folder")
    sub.add_argument("dest", help="the delivery folder to create (must not exist)")
    sub.add_argument("--max-size", default="50GB", help="largest tar (default 50GB)")
    sub.add_argument("--fake-ok", action="store_true", help="deliver a fake/ticket package anyway (for tests)")
    _add_naming(sub)
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_deliver)

    sub = commands.add_parser("restore-prep", help="unpack delivered data for scriptForPI.py, checked first",
                              description="Unpack product tars (*_001_of_001.tar, *_auxiliary.tar) and raw ASDM tars "
                                          "(<Project>_<EB uid>.asdm.sdm.tar) or folders safely into DIR, put raw/ "
                                          "beside script/, check the ASDMs the scripts name, that calibrated/ does "
                                          "not exist and the free space, and print the command to run next.")
    sub.add_argument("inputs", nargs="+", metavar="TAR_OR_DIR", help="product and raw tars, or folders")
    sub.add_argument("--into", required=True, metavar="DIR", help="where to unpack (created if needed)")
    sub.add_argument("--spacesaving", type=int, default=1, metavar="N",
                     help="the SPACESAVING scriptForPI.py will run with (default 1; 0-3)")
    sub.add_argument("--write-ppr", action="store_true", help="also write a restore PPR (hifa_restoredata)")
    _add_common(sub)
    _add_wait(sub)
    sub.set_defaults(run=cmd_restore_prep)

    sub = commands.add_parser("workspace", help="QA2 workspace helpers: start an SB, clear an EB, flux equalisation",
                              description="Helpers around the packager for the analyst's QA2 working tree.")
    actions = sub.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    act = actions.add_parser("start", help="create an SB's working tree from its ASDMs",
                             description="Create SB_DIR/<SB>/ with one EB folder per ASDM (named like X66d, holding "
                                         "a link to the ASDM, or the ASDM with --move), calibrated/, the SB and EB "
                                         "checklist templates, README.header.txt and packaging/{ticket,hard}/"
                                         "run_packaging.py. Existing files are never overwritten.")
    act.add_argument("sb_dir", help="the SB folder (its name is the SB name)")
    act.add_argument("--asdm-dir", metavar="D", help="where the ASDMs are (default: SB_DIR)")
    act.add_argument("--project", metavar="CODE", help="project code (default: the parent folder name, if it is one)")
    act.add_argument("--move", action="store_true", help="move the ASDMs into the EB folders instead of linking")
    _add_common(act)
    _add_wait(act)
    act.set_defaults(run=cmd_workspace_start)
    act = actions.add_parser("clear", help="remove everything in an EB folder but its ASDM and calibration script",
                             description="List what goes, ask, then remove everything in EB_DIR except the ASDM "
                                         "(or the link to it) and *.scriptForCalibration.py. Refuses a folder "
                                         "without an ASDM.")
    act.add_argument("eb_dir", help="the EB folder")
    act.add_argument("--yes", action="store_true", help="do not ask")
    _add_common(act)
    _add_wait(act)
    act.set_defaults(run=cmd_workspace_clear)
    act = actions.add_parser("fluxequal-start", help="link the EBs' *.ms.split.cal and *.fluxscale into calibrated/",
                             description="Make relative links in calibrated/ to every EB's *.ms.split.cal and "
                                         "*.fluxscale, for flux equalisation. Existing names are left alone.")
    act.add_argument("sb_dir", help="the SB folder (or its reduction folder)")
    _add_common(act)
    _add_wait(act)
    act.set_defaults(run=cmd_workspace_fluxequal)
    return parser


def _setup_terminal_logging(args: argparse.Namespace) -> logging.Handler | None:
    if getattr(args, "json", False):
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalFormatter())
    quiet = getattr(args, "quiet", False) or args.run is cmd_demo  # the demo prints its own account
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    return handler


def _tolerant_streams() -> None:
    """Let odd file names (bytes that are not UTF-8) print escaped instead of stopping a run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa2pack`` command; return its exit code.

    Every refusal is one line on stderr.  The exit code is 2 only when nothing was written; an
    error after the first write is 3 (the run cleaned up or left its marker), whatever raised it.
    """
    _tolerant_streams()
    handler = None
    json_mode = argv is not None and "--json" in argv or argv is None and "--json" in sys.argv[1:]
    with tracking_writes() as writes:
        try:
            args = build_parser().parse_args(argv)
            handler = _setup_terminal_logging(args)
            run: Handler = args.run
            return run(args)
        except Qa2packError as exc:
            return _fail(str(exc), exit_code_for(exc, bool(writes)), json_mode, exc.details)
        except OSError as exc:  # the disk or the network failed under us: one line, never a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}", EXIT_FAILED_MIDRUN if writes else EXIT_BAD_INPUT, json_mode)
        except KeyboardInterrupt:
            sys.stderr.write("qa2pack: interrupted; a partial package keeps its .qa2pack-incomplete marker and "
                             "the next run rolls it back\n")
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        finally:
            if handler is not None:
                log.removeHandler(handler)


def _fail(message: str, code: int, json_mode: bool, details: Sequence[str] = ()) -> int:
    sys.stderr.write(f"qa2pack: error: {message}\n")
    if json_mode:
        _emit_json({"error": message, "exit_code": code, "details": list(details)})
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
