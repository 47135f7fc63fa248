"""What a Dask worker runs for one JOBS line: the CLI's own ``main``, in this process, never a shell.

A run prints its ``--json`` document to ``sys.stdout`` and reads paths relative to the current
folder, both of which belong to the whole process, so one worker process runs one line at a time
(a worker with several threads queues them) and each line runs in the JOBS file's folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from ..core.errors import EXIT_FAILED_MIDRUN
from ..run.progress import counted, human_bytes
from .jobs import command_line
from .ledger import LineResult

_ONE_AT_A_TIME = threading.Lock()


def run_line(line: int, argv: Sequence[str], folder: str) -> LineResult:
    """Run one command line as ``qa2pack ARGV --json`` would, in ``folder``; return how it finished."""
    from ..cli.app import main

    with _ONE_AT_A_TIME:
        started = time.time()
        stdout, stderr = io.StringIO(), io.StringIO()
        previous = os.getcwd()
        try:
            os.chdir(folder)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main([*argv, "--json"])
        except Exception as exc:  # noqa: BLE001 - a bug in one line must not take the worker down
            code = EXIT_FAILED_MIDRUN
            stderr.write(f"qa2pack: error: {type(exc).__name__}: {exc}\n")
        finally:
            os.chdir(previous)
        finished = time.time()
    document = _document(stdout.getvalue())
    return LineResult(
        line=line,
        command=command_line(argv),
        exit_code=code,
        summary=summary_of(document, stderr.getvalue(), code),
        host=socket.gethostname(),
        pid=os.getpid(),
        started=_stamp(started),
        finished=_stamp(finished),
        seconds=round(finished - started, 3),
        result=document,
    )


def _document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def summary_of(document: dict[str, Any], stderr: str, code: int) -> str:
    """One line for the ledger and the terminal: the run's own summary where it has one."""
    if document.get("error"):
        return str(document["error"])
    if document.get("summary"):
        return str(document["summary"])
    if isinstance(document.get("tars"), list):
        tars = document["tars"]
        size = sum(int(t.get("size", 0)) for t in tars if isinstance(t, dict))
        return f"{counted(len(tars), 'tar')} ({human_bytes(size)})" + (f" in {document['dest']}"
                                                                         if document.get("dest") else "")
    if document.get("into"):
        return f"unpacked into {document['into']}"
    errors = [line for line in stderr.splitlines() if line.strip()]
    return errors[-1] if errors else f"exit {code}"
