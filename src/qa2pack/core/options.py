"""The typed options of a packaging run (the CLI flags and the legacy keywords map onto these)."""

from __future__ import annotations

from pathlib import Path

from ..delivery.layout import OusUids
from .config import DEFAULT_CONFIG, Config
from .model import Append, Mode, Style
from .record import record


@record
class PackageOptions:
    """Everything that changes what ``package`` does, besides origpath and packpath."""

    mode: Mode = Mode.FAKE
    style: Style = Style()
    append: Append = Append.REPLACE
    readme: Path | None = None
    gzip_caltables: bool = False
    pi_script: Path | None = None
    noms: bool = False
    include_asdm: bool = False
    follow_links: bool = False
    checksums: bool = False
    config: Config = DEFAULT_CONFIG
    ous_uids: OusUids | None = None

    @property
    def include_ms(self) -> bool:
        """Whether MSs are packaged: ``--noms`` always wins, then the style, else yes."""
        if self.noms:
            return False
        return True if self.style.include_ms is None else self.style.include_ms
