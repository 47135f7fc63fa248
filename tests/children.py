"""Looking at the child processes a run forks: still working, reaped, gone."""

from __future__ import annotations

import os
import time
from types import ModuleType


def alive(pid: int) -> bool:
    """Tell whether a process runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def reaped(pid: int) -> bool:
    """Tell whether a child of this process has ended and been waited for."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def ended_within(pid: int, seconds: float) -> bool:
    """Wait up to ``seconds`` for a process to end; tell whether it did."""
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def recorded_forks(monkeypatch, module: ModuleType) -> list[int]:  # type: ignore[no-untyped-def]
    """Record the process id of every child ``module`` forks (through its ``fork_child``)."""
    pids: list[int] = []
    real = module.fork_child

    def recording(serve):  # type: ignore[no-untyped-def]
        pid, read = real(serve)
        pids.append(pid)
        return pid, read

    monkeypatch.setattr(module, "fork_child", recording)
    return pids
