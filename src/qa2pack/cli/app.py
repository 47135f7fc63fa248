"""The ``qa2pack`` program: parse, run one command, and turn every refusal into one line and an exit code."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Callable

from ..core.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED_MIDRUN,
    EXIT_INTERRUPTED,
    Qa2packError,
    exit_code_for,
    tracking_writes,
)
from . import commands
from .parser import build_parser
from .render import TerminalFormatter, emit_json

log = logging.getLogger("qa2pack")

Handler = Callable[[argparse.Namespace], int]


def _terminal_logging(args: argparse.Namespace) -> logging.Handler | None:
    """Show qa2pack's log records on stderr (the command line is an application: it sets this up)."""
    if getattr(args, "json", False):
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TerminalFormatter())
    quiet = getattr(args, "quiet", False) or args.run is commands.cmd_demo  # the demo prints its own account
    handler.setLevel(logging.WARNING if quiet else logging.INFO)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def _tolerant_streams() -> None:
    """Let odd file names (bytes that are not UTF-8) print escaped instead of stopping a run."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def _command_in(argv: Sequence[str]) -> str:
    words = [word for word in argv if not word.startswith("-")]
    return " ".join(words[:2]) if words[:1] in (["workspace"], ["batch-jobs"]) else (words[0] if words else "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qa2pack`` command; return its exit code.

    Every refusal is one line on stderr.  The exit code is 2 only when nothing was written; an
    error after the first write is 3 (the run cleaned up or left its marker), whatever raised it.
    """
    _tolerant_streams()
    argv = list(sys.argv[1:] if argv is None else argv)
    json_mode = "--json" in argv
    handler = None
    level = log.level
    with tracking_writes() as writes:
        try:
            args = build_parser(argv).parse_args(argv)
            handler = _terminal_logging(args)
            run: Handler = args.run
            return run(args)
        except Qa2packError as exc:
            return _fail(argv, str(exc), exit_code_for(exc, bool(writes)), json_mode, exc.details)
        except OSError as exc:  # the disk or the network failed under us: one line, never a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            code = EXIT_FAILED_MIDRUN if writes else EXIT_BAD_INPUT
            return _fail(argv, f"{exc.strerror or exc}{where}", code, json_mode)
        except KeyboardInterrupt:
            sys.stderr.write("qa2pack: interrupted; a partial package keeps its .qa2pack-incomplete marker and "
                             "the next run rolls it back\n")
            return EXIT_INTERRUPTED
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        finally:
            if handler is not None:
                log.removeHandler(handler)
                log.setLevel(level)


def _fail(argv: Sequence[str], message: str, code: int, json_mode: bool, details: Sequence[str] = ()) -> int:
    sys.stderr.write(f"qa2pack: error: {message}\n")
    if json_mode:
        emit_json(_command_in(argv), {"error": message, "exit_code": code, "details": list(details)})
    return code
