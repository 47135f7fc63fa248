"""The base of every short machine-readable code (why a path is not packaged, what verify found).

Its own module so that commands which only check (``verify``) do not load the whole plan model.
"""

from __future__ import annotations

from enum import Enum


class Code(str, Enum):
    """A short code for machines (JSON, tests) that reads as its value wherever it is printed."""

    def __str__(self) -> str:
        return str(self.value)
