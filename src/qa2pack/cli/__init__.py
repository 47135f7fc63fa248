"""The ``qa2pack`` command line: the parser, one function per command, and what they print."""

from .app import main, run_and_exit

__all__ = ["main", "run_and_exit"]
