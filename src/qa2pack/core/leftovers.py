"""What a finished run no longer needs, left to the end of the process when the process ends right after it.

Freeing a run's tables of 10,000 files one object at a time takes milliseconds at the end of a
``verify``.  The command line ends its process without the interpreter's teardown, so what it
keeps here is never freed one by one: the operating system takes the memory back whole.  A
library call frees as usual: nothing is kept unless the command line asked for it, and a
command that runs many verifies in one process keeps only what the last ones left.
"""

from __future__ import annotations

_kept: list[object] | None = None
KEPT_AT_MOST = 4  # hand-overs kept: about two runs' worth; an older one is freed when a new one comes


class kept_to_the_end:  # noqa: N801 - used as a function: ``with kept_to_the_end() as kept``
    """Keep what runs :func:`leave` in the list given, for a caller that ends the process after holding it.

    A class, not a ``contextlib`` one: the command line enters it before the children that work
    ahead are forked, when only what they need is loaded.
    """

    def __enter__(self) -> list[object]:
        global _kept
        _kept = []
        return _kept

    def __exit__(self, *exc: object) -> None:
        global _kept
        _kept = None


def leave(*objects: object) -> None:
    """Hand over objects a run is done with: kept while :func:`kept_to_the_end` is in force, else freed as usual."""
    if _kept is not None:
        _kept.append(objects)
        del _kept[:-KEPT_AT_MOST]
