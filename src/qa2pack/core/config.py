"""The placement configuration: defaults, TOML loading, printing.

Every folder name and name pattern the packager uses lives here, so that a site can change
them in a TOML file without touching code.  ``qa2pack config`` prints the effective values.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .record import as_dict, fields, record, replace

FOLDER_KEYS = ("product", "calibration", "qa", "script", "log", "raw", "calibrated")
TABLES = ("folders", "workspace", "batch")  # the TOML tables; every other key is a top-level pattern list
CONFIG_ENV = "QA2PACK_CONFIG"  # the configuration file used when no --config is given


@record
class WorkspaceSettings:
    """The ``[workspace]`` table: a site's settings for the analyst's workspace commands."""

    pi_script: str = ""  # the scriptForPI.py that 'workspace start' puts beside README.header.txt
    publish_dir: str = ""  # where 'workspace publish' makes a delivery available (a web-served folder)
    publish_url: str = ""  # the address of publish_dir, for the message to the data reduction manager


@record
class BatchSettings:
    """The ``[batch]`` table: the jobs ``batch --cluster slurm|htcondor`` asks the site's scheduler for."""

    workers: int = 2  # batch jobs to start (each runs ``cores`` worker processes, one task at a time each)
    cores: int = 1
    memory: str = "4GB"  # per batch job
    walltime: str = "04:00:00"  # Slurm's time limit per batch job
    queue: str = ""  # Slurm partition
    account: str = ""  # Slurm account
    disk: str = "10GB"  # HTCondor's disk request per batch job


@record
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
    workspace: WorkspaceSettings = WorkspaceSettings()
    batch: BatchSettings = BatchSettings()

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
        values["workspace"] = _settings_table(data, WorkspaceSettings, "workspace", source)
        values["batch"] = _settings_table(data, BatchSettings, "batch", source)
        for key, value in data.items():
            if key in TABLES:
                continue
            if key not in known or key in FOLDER_KEYS:
                valid = ", ".join(sorted(k for k in known if k not in FOLDER_KEYS + TABLES))
                raise ConfigError(f"{source}: unknown key {key!r}; known keys: [folders], [workspace], [batch], {valid}")
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
                                else getattr(self, f.name) for f in fields(self) if f.name not in FOLDER_KEYS + TABLES}
        data["folders"] = {key: self.folder(key) for key in FOLDER_KEYS}
        data["workspace"] = as_dict(self.workspace)
        data["batch"] = as_dict(self.batch)
        return data

    def to_toml(self) -> str:
        """Render the configuration as TOML that :func:`load_config` reads back unchanged."""
        lines = ["# qa2pack configuration (defaults shown; override any key in your own file)", ""]
        for f in fields(self):
            if f.name in FOLDER_KEYS + TABLES:
                continue
            value = getattr(self, f.name)
            if isinstance(value, str):
                lines.append(f"{f.name} = {_toml_str(value)}")
            else:
                lines.append(f"{f.name} = [{', '.join(_toml_str(v) for v in value)}]")
        lines += ["", "[folders]"]
        lines += [f"{key} = {_toml_str(self.folder(key))}" for key in FOLDER_KEYS]
        for table in ("workspace", "batch"):
            lines += ["", f"[{table}]"]
            lines += [f"{name} = {_toml_value(value)}" for name, value in as_dict(getattr(self, table)).items()]
        return "\n".join(lines) + "\n"


Settings = TypeVar("Settings", WorkspaceSettings, BatchSettings)


def _settings_table(data: dict[str, Any], kind: type[Settings], table: str, source: str) -> Settings:
    """Read one settings table; each key must be known and of its default's type."""
    given = data.get(table, {})
    if not isinstance(given, dict):
        raise ConfigError(f"{source}: [{table}] must be a table")
    defaults = as_dict(kind())
    for key, value in given.items():
        if key not in defaults:
            raise ConfigError(f"{source}: unknown key {table}.{key}; known: {', '.join(sorted(defaults))}")
        wanted = type(defaults[key])
        if type(value) is not wanted:  # bool is an int to isinstance: compare the types themselves
            raise ConfigError(f"{source}: {table}.{key} must be {'a string' if wanted is str else 'a whole number'}")
    return kind(**given)


def _toml_value(value: str | int) -> str:
    return _toml_str(value) if isinstance(value, str) else str(value)


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


DEFAULT_CONFIG = Config()


def load_config(path: Path | None) -> Config:
    """Return the defaults overridden by the TOML file at ``path``.

    Without a path, the file named by the ``QA2PACK_CONFIG`` environment variable is read, if it
    is set (a site's or an analyst's settings); otherwise the defaults hold.
    """
    if path is None:
        if not os.environ.get(CONFIG_ENV):
            return DEFAULT_CONFIG
        path = Path(os.environ[CONFIG_ENV])
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
