"""The ledger beside a JOBS file: one JSON line per finished command line, written as it finishes.

Each record is appended with one write and flushed to the disk before the next line is counted
done, so a batch stopped at any moment (even killed) leaves a ledger that says exactly which lines
finished.  A record torn by a crash mid-write is ignored when the ledger is read back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.record import as_dict, field, record

LEDGER_SUFFIX = ".ledger.jsonl"


def ledger_path(jobs_path: Path) -> Path:
    """``fixity.jobs`` -> ``fixity.jobs.ledger.jsonl``, in the same folder."""
    return jobs_path.with_name(jobs_path.name + LEDGER_SUFFIX)


@record(frozen=False)
class LineResult:
    """How one command line of a batch finished."""

    line: int
    command: str
    exit_code: int
    summary: str
    host: str = ""
    pid: int = 0
    started: str = ""
    finished: str = ""
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)  # the command's own --json document

    @property
    def ok(self) -> bool:
        """Tell whether the line succeeded."""
        return self.exit_code == 0

    def to_json(self) -> dict[str, Any]:
        """Return the record as plain JSON (one ledger line)."""
        return as_dict(self)


def read_ledger(path: Path) -> list[LineResult]:
    """Return the ledger's records in the order written (none if there is no ledger yet)."""
    return list(_records(path))


def _records(path: Path) -> Iterator[LineResult]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InputError(f"cannot read the ledger {path}: {exc.strerror}") from None
    for line in text.splitlines():
        try:
            data = json.loads(line)
            yield LineResult(**data)
        except (ValueError, TypeError):  # a record torn by a crash, or not one of ours
            continue


def last_exit_codes(records: list[LineResult]) -> dict[str, int]:
    """Each command's latest exit code: what a rerun decides from."""
    return {record.command: record.exit_code for record in records}


class Ledger:
    """Append-only writer of one ledger file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._repair_torn_end()

    def _repair_torn_end(self) -> None:
        """Start on a fresh line if a killed run left half a record (it is ignored when read)."""
        size = os.fstat(self._fd).st_size
        if size:
            with open(self.path, "rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    os.write(self._fd, b"\n")

    def record(self, result: LineResult) -> None:
        """Append one record in one write, on the disk before this returns."""
        data = (json.dumps(result.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
        os.write(self._fd, data)
        os.fsync(self._fd)

    def close(self) -> None:
        """Close the file (every record is on the disk already)."""
        os.close(self._fd)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
