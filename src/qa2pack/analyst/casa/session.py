"""Run one script the way CASA runs it: in this folder, with CASA's tasks, tools and ``execfile``.

Usage: ``python -m qa2pack.analyst.casa.session SCRIPT [NAME=VALUE ...]``; each NAME=VALUE is a
global set before the script starts (``SPACESAVING=1``), its value read as a Python literal.
The exit code is the script's own (``sys.exit``), 1 on an exception.

This is modular CASA (the ``casatools`` and ``casatasks`` packages): what a CASA release gives a
script at its prompt is put in the script's globals here, nothing more.
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def casa_globals() -> dict[str, Any]:
    """Return the globals of a CASA prompt: every task, the common tools as instances, ``casalog`` and ``execfile``."""
    import casatasks
    import casatools

    names: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    names.update({name: getattr(casatasks, name) for name in getattr(casatasks, "__all__", dir(casatasks))
                  if not name.startswith("_")})
    for tool in ("table", "msmetadata", "measures", "quanta", "imager", "calibrater", "image", "agentflagger",
                 "ms", "simulator", "componentlist"):
        names[tool] = getattr(casatools, tool)
    names.update(tb=casatools.table(), msmd=casatools.msmetadata(), me=casatools.measures(), qa=casatools.quanta(),
                 ia=casatools.image(), cl=casatools.componentlist(), casalog=casatasks.casalog,
                 casa={"version": casatools.version_string(), "build": {"version": casatools.version_string()}})

    def execfile(path: str, where: dict[str, Any] | None = None) -> None:
        with open(path) as handle:
            code = compile(handle.read(), path, "exec")
        exec(code, names if where is None else where)  # noqa: S102 - running the analyst's scripts is the job

    names["execfile"] = execfile
    return names


def main(argv: list[str]) -> int:
    """Run ``argv[0]`` with the globals of a CASA prompt and the NAME=VALUE settings after it."""
    script, settings = argv[0], argv[1:]
    names = casa_globals()
    for setting in settings:
        name, _, value = setting.partition("=")
        names[name] = ast.literal_eval(value)
    try:
        names["execfile"](script)
    except SystemExit as stop:
        if stop.code in (None, 0):
            return 0
        print(stop.code if isinstance(stop.code, str) else f"exit {stop.code}", file=sys.stderr)
        return stop.code if isinstance(stop.code, int) else 1
    except Exception:  # noqa: BLE001 - the script's own failure, reported as CASA would show it
        traceback.print_exc()
        return 1
    return 0


def _child(script: str, folder: str, settings: list[str], log_file: str, environment: dict[str, str]) -> None:
    """Start of the separate process: the folder, the environment and the log, then the script."""
    os.chdir(folder)
    os.environ.update(environment)  # before CASA is imported: its site configuration comes from here
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for stream in (1, 2):  # CASA's own C++ logging writes to the descriptors, not to sys.stdout
        os.dup2(fd, stream)
    os.close(fd)
    code = main([script, *settings])
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def run_in_process(script: Path, settings: Sequence[str], log_file: Path, environment: Mapping[str, str]) -> int:
    """Run ``script`` in its own folder in a fresh Python process (CASA may exit or crash it); return its exit code."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(target=_child, args=(script.name, str(script.parent), list(settings), str(log_file),
                                                   dict(environment)))
    process.start()
    process.join()
    return process.exitcode if process.exitcode is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
