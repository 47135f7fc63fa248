"""The ``qa2pack`` command: argument parsing, terminal output, exit codes.

The only module that reads argv, prints, or returns exit codes.  Every user mistake arrives
here as a :class:`~qa2pack.errors.Qa2packError` and leaves as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ._version import __version__
from .config import load_config
from .errors import EXIT_INTERRUPTED, EXIT_OK, Qa2packError, UsageError
from .model import Append, Mode, Style
from .options import PackageOptions
from .progress import make_progress

log = logging.getLogger("qa2pack")

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), raised as UsageError."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class _TerminalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


def _out(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- shared options ------------------------------------------------------------------------


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (no progress)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on the terminal")
    parser.add_argument("-v", "--verbose", action="store_true", help="also list every path not packaged")


def _add_packaging(parser: argparse.ArgumentParser, with_mode: bool = True) -> None:
    if with_mode:
        parser.add_argument("--mode", default="fake", metavar="MODE",
                            help="fake (default), copy, hard, move, ticket or manimgonly")
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
    )


# -- commands -------------------------------------------------------------------------------


def cmd_package(args: argparse.Namespace) -> int:
    """Package a reduction folder."""
    from .api import package
    from .report import render_leftovers

    options = options_from_args(args)
    progress = make_progress(args.json, args.quiet)
    report = package(args.origpath, args.packpath, options, progress)
    if args.json:
        _emit_json(report.to_json())
        return EXIT_OK
    if args.verbose:
        _out(args, "\n".join(render_leftovers(report.skipped, ())[:-3]))
    if not args.quiet:
        for key, value in report.outputs.items():
            _out(args, f"{key:>10}: {value}")
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
    sub.set_defaults(run=cmd_package)

    sub = commands.add_parser("inspect", help="show what package would do, writing nothing",
                              description="Show the plan as a tree: every file and where it goes and why, "
                                          "what is not packaged, and the warnings. Writes nothing.")
    sub.add_argument("origpath", help="the reduction folder")
    sub.add_argument("packpath", nargs="?", help="optional: the package the plan is for (for --append)")
    _add_packaging(sub)
    _add_common(sub)
    sub.set_defaults(run=cmd_inspect)

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa2pack`` command; return its exit code."""
    handler = None
    json_mode = argv is not None and "--json" in argv or argv is None and "--json" in sys.argv[1:]
    try:
        args = build_parser().parse_args(argv)
        handler = _setup_terminal_logging(args)
        run: Handler = args.run
        return run(args)
    except Qa2packError as exc:
        sys.stderr.write(f"qa2pack: error: {exc}\n")
        if json_mode:
            _emit_json({"error": str(exc), "exit_code": exc.exit_code, "details": list(exc.details)})
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("qa2pack: interrupted; a partial package keeps its .qa2pack-incomplete marker and "
                         "the next run rolls it back\n")
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    finally:
        if handler is not None:
            log.removeHandler(handler)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
