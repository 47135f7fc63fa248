"""The ``qa2pack`` command line: the parser, one function per command, and what they print."""

from .app import main

__all__ = ["main"]
