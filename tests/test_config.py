"""The placement configuration: defaults, TOML overrides, printing, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import eb
from qa2pack import PackageOptions, plan_package
from qa2pack.cli import main
from qa2pack.core.config import DEFAULT_CONFIG, load_config
from qa2pack.core.errors import ConfigError


def test_printed_defaults_read_back_unchanged(tmp_path: Path, capsys) -> None:
    assert main(["config"]) == 0
    text = capsys.readouterr().out
    assert 'rawdatacopy = [".ms.split"]' in text and "[folders]" in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_config(path) == DEFAULT_CONFIG


def test_overrides_change_placement(build, tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text('caldatacopy = [".ms.split.cal", ".ms.cal"]\nqa2_others = ["weblog"]\n'
                   '[folders]\nqa = "qa2"\n')
    root = build(eb("SB/X1", "uid___A002_X9_X1") | {"SB/X1/uid___A002_X9_X1.ms.cal": "@ms",
                                                     "SB/weblog/index.html": "<html/>"})
    plan = plan_package(root, PackageOptions(config=load_config(cfg)))
    targets = {a.target.relative_to(plan.members[0].folder).as_posix() for a in plan.members[0].actions}
    assert "calibrated/uid___A002_X9_X1.ms.cal" in targets
    assert "qa2/weblog" in targets  # a whole folder named in qa2_others, in the renamed qa folder
    assert "qa2/X1.checklist.txt" in targets


@pytest.mark.parametrize(("text", "needle"), [
    ("rawdatacopy = '.ms.split'\n", "rawdatacopy must be a list of strings"),
    ("colour = ['red']\n", "unknown key 'colour'"),
    ("[folders]\nqa = 'a/b'\n", "folders.qa must be a plain folder name"),
    ("[folders]\nweblog = 'x'\n", "unknown folder 'weblog'"),
    ("rawdatacopy = [\n", "is not valid TOML"),
])
def test_bad_config_files(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(path)


def test_missing_config_file_through_the_cli(tmp_path: Path, capsys) -> None:
    assert main(["config", "--config", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err.strip() == f"qa2pack: error: configuration file not found: {tmp_path / 'none.toml'}"
