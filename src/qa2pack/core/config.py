"""The placement configuration: defaults, TOML loading, printing.

Every folder name and name pattern the packager uses lives here, so that a site can change
them in a TOML file without touching code.  ``qa2pack config`` prints the effective values.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

FOLDER_KEYS = ("product", "calibration", "qa", "script", "log", "raw", "calibrated")


@dataclass(frozen=True)
class Config:
    """Folder names and name patterns; patterns are shell globs matched case-sensitively."""

    # Package folders inside a member.
    product: str = "product"
    calibration: str = "calibration"
    qa: str = "qa"
    script: str = "script"
    log: str = "log"
    raw: str = "raw"
    calibrated: str = "calibrated"
    # MS name endings that are packaged (the original rawdatacopy / caldatacopy lists).
    rawdatacopy: tuple[str, ...] = (".ms.split",)
    caldatacopy: tuple[str, ...] = (".ms.split.cal",)
    # QA2 material, looked for at the SB level, the EB level and in qa2 folders.
    qa2_patterns: tuple[str, ...] = (
        "*.jpg",
        "*qa2.txt",
        "*qa2-summ.txt",
        "*.qa2.pdf",
        "*textfile.txt",
        "*qa2_part?.png",
        "*html.tgz",
        "*.tbl",
    )
    qa2_others: tuple[str, ...] = ()
    qa2_folders: tuple[str, ...] = ("qa2",)
    checklist_patterns: tuple[str, ...] = ("*checklist", "*checklist.txt", "*Checklist", "*Checklist.txt")
    script_patterns: tuple[str, ...] = ("*.py",)
    log_patterns: tuple[str, ...] = ("*.log", "*.log.txt")
    product_patterns: tuple[str, ...] = ("*.fits",)
    mask_patterns: tuple[str, ...] = ("*.mask",)
    ephemeris_patterns: tuple[str, ...] = ("*.eph",)
    fluxscale_patterns: tuple[str, ...] = ("*.fluxscale",)
    calibration_script_patterns: tuple[str, ...] = ("*Calibration*.py", "*calibration*.py")
    # Sanity checks: warn when an EB lacks one of these (suffix globs after the EB uid).
    required_caltables: tuple[str, ...] = (
        ".ms.split.bandpass*",
        ".ms.split.phase_int",
        ".ms.split.ampli_inf",
        ".ms.split.flux_inf",
    )
    required_qa2: tuple[str, ...] = ("textfile.txt", "qa2_part1.png")
    # manimgonly mode packages files whose name contains this text, and the scripts.
    manual_marker: str = "manual"

    def folder(self, key: str) -> str:
        """Return the package folder name for ``key`` (``"calibration"`` -> its configured name)."""
        if key not in FOLDER_KEYS:
            raise KeyError(key)
        return str(getattr(self, key))

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "configuration") -> Config:
        """Build a config from TOML data: a ``[folders]`` table and top-level pattern lists."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        folders = data.get("folders", {})
        if not isinstance(folders, dict):
            raise ConfigError(f"{source}: [folders] must be a table")
        for key, value in folders.items():
            if key not in FOLDER_KEYS:
                raise ConfigError(f"{source}: unknown folder {key!r}; known: {', '.join(FOLDER_KEYS)}")
            if not isinstance(value, str) or not value or "/" in value:
                raise ConfigError(f"{source}: folders.{key} must be a plain folder name")
            values[key] = value
        for key, value in data.items():
            if key == "folders":
                continue
            if key not in known or key in FOLDER_KEYS:
                valid = ", ".join(sorted(k for k in known if k not in FOLDER_KEYS))
                raise ConfigError(f"{source}: unknown key {key!r}; known keys: [folders], {valid}")
            if key == "manual_marker":
                if not isinstance(value, str):
                    raise ConfigError(f"{source}: {key} must be a string")
                values[key] = value
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{source}: {key} must be a list of strings")
            values[key] = tuple(value)
        return replace(cls(), **values)

    def to_json(self) -> dict[str, Any]:
        """Return the configuration as plain JSON (``config --json``): the keys of the TOML form."""
        data: dict[str, Any] = {f.name: list(getattr(self, f.name)) if isinstance(getattr(self, f.name), tuple)
                                else getattr(self, f.name) for f in fields(self) if f.name not in FOLDER_KEYS}
        data["folders"] = {key: self.folder(key) for key in FOLDER_KEYS}
        return data

    def to_toml(self) -> str:
        """Render the configuration as TOML that :func:`load_config` reads back unchanged."""
        lines = ["# qa2pack configuration (defaults shown; override any key in your own file)", ""]
        for f in fields(self):
            if f.name in FOLDER_KEYS:
                continue
            value = getattr(self, f.name)
            if isinstance(value, str):
                lines.append(f"{f.name} = {_toml_str(value)}")
            else:
                lines.append(f"{f.name} = [{', '.join(_toml_str(v) for v in value)}]")
        lines += ["", "[folders]"]
        lines += [f"{key} = {_toml_str(self.folder(key))}" for key in FOLDER_KEYS]
        return "\n".join(lines) + "\n"


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


DEFAULT_CONFIG = Config()


def load_config(path: Path | None) -> Config:
    """Return the defaults overridden by the TOML file at ``path`` (None: the defaults)."""
    if path is None:
        return DEFAULT_CONFIG
    if sys.version_info >= (3, 11):  # imported here: most runs have no configuration file
        import tomllib
    else:
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None
    return Config.from_mapping(data, source=str(path))
