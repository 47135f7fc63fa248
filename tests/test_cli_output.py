"""What the command line prints: examples in every --help, one stamped JSON document, -q and -v that mean it."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from factories import eb
from qa2pack.cli import main
from qa2pack.cli.parser import build_parser
from qa2pack.cli.render import JSON_SCHEMA

MOUS = "uid://A001/X1284/X1ef2"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def every_command() -> list[list[str]]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    found = []
    for name, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        nested = [a for a in sub._actions if getattr(a, "dest", "") == "action"]
        found += [[name, action] for action in nested[0].choices] if nested else [[name]]
    return found


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_help_ends_with_worked_examples(capsys, command: list[str]) -> None:
    code, out, _ = run(capsys, *command, "--help")
    assert code == 0
    examples = out[out.index("examples:"):].splitlines()[1:]
    assert 1 <= len(examples) <= 3 and all(line.startswith("  qa2pack ") for line in examples), out
    assert " ".join(command) in "\n".join(examples)


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_command_takes_json_and_quiet(capsys, command: list[str]) -> None:
    _, out, _ = run(capsys, *command, "--help")
    assert "--json" in out
    assert "-q, --quiet" in out or command == ["config"]


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_the_parser_of_one_command_is_that_command_of_the_whole_parser(capsys, command: list[str]) -> None:
    """main builds only the command it runs: the same help, the same arguments parsed."""
    def help_of(parser) -> str:  # type: ignore[no-untyped-def]
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--help"])
        return capsys.readouterr().out

    paths = {"package": ["A", "B"], "stage": ["A", "B"], "deliver": ["A", "B"], "config": []}
    argv = [*command, *paths.get(command[0], ["A"]), "--json"]
    if command[0] == "restore-prep":
        argv += ["--into", "DIR"]
    elif command[:2] == ["batch-jobs", "restore-prep"]:
        argv += ["--products", "P", "--into", "DIR"]
    whole, alone = build_parser(), build_parser(argv)
    assert help_of(alone) == help_of(whole)
    assert vars(alone.parse_args(argv)) == vars(whole.parse_args(argv))
    assert len(next(a for a in alone._actions if a.dest == "command").choices) == 1  # type: ignore[attr-defined]


def test_the_list_of_commands_is_whole_when_no_command_is_named(capsys) -> None:
    for argv in ([], ["--json", "package"], ["-h"]):
        subparsers = next(a for a in build_parser(argv)._actions if a.dest == "command")
        assert list(subparsers.choices) == list(dict.fromkeys(c[0] for c in every_command()))  # type: ignore[attr-defined]
    code, _, err = run(capsys, "pakage", "SB", "P")
    assert code == 2 and "invalid choice: 'pakage'" in err and "package" in err


def test_verbose_is_offered_only_where_it_shows_more(capsys) -> None:
    with_verbose = [c for c in every_command() if "-v, --verbose" in (run(capsys, *c, "--help")[1])]
    assert with_verbose == [["package"], ["verify"]]


@pytest.fixture
def package_folder(build, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    sb = build(eb("SB/X1", "uid___A002_X8_X1") | {"SB/scriptForImaging.py": "# i\n", "SB/a.fits": "@fits"}) / "SB"
    packpath = tmp_path / "2013.1.00001.S"
    assert main(["package", str(sb), str(packpath), "--mode", "copy", "-q"]) == 0
    capsys.readouterr()  # its warning (no --readme) is not what the tests look at
    return packpath


def json_of(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code, out, err = run(capsys, *argv, "--json")
    document = json.loads(out)
    assert document["schema"] == JSON_SCHEMA
    return document


def test_every_json_document_says_its_schema_and_command(capsys, build, package_folder: Path, tmp_path: Path) -> None:
    sb = build(eb("SB2/X1", "uid___A002_X9_X1"), "other") / "SB2"
    assert json_of(capsys, "inspect", str(sb))["command"] == "inspect"
    assert json_of(capsys, "config")["command"] == "config"
    assert json_of(capsys, "config")["folders"]["product"] == "product"
    assert json_of(capsys, "verify", str(package_folder))["command"] == "verify"
    tars = json_of(capsys, "tarsplit", str(package_folder), "--mous-uid", MOUS, "--output", str(tmp_path / "t"))
    assert tars["command"] == "tarsplit" and tars["tars"]
    delivery = json_of(capsys, "deliver", str(package_folder), str(tmp_path / "d"), "--mous-uid", MOUS)
    assert delivery["command"] == "deliver" and delivery["dest"] == str(tmp_path / "d")
    failed = json_of(capsys, "deliver", str(package_folder), str(tmp_path / "d"), "--mous-uid", MOUS)
    assert failed["command"] == "deliver" and failed["exit_code"] == 2 and "exists" in failed["error"]
    start = json_of(capsys, "workspace", "start", str(tmp_path / "empty"))
    assert start["command"] == "workspace start"


def test_quiet_means_quiet(capsys, package_folder: Path, tmp_path: Path) -> None:
    code, out, err = run(capsys, "deliver", str(package_folder), str(tmp_path / "d"), "--mous-uid", MOUS, "-q")
    assert code == 0 and out == "" and err == ""
    code, out, err = run(capsys, "verify", str(package_folder), "-q")
    assert code == 0 and out == "" and err == ""


def test_an_argument_error_is_one_line_with_its_prefix_once(capsys) -> None:
    code, out, err = run(capsys, "package", "--mode")
    assert code == 2 and err.count("qa2pack") == 2 and err.startswith("qa2pack: error: argument --mode")
    assert err.rstrip().endswith("(see qa2pack package --help)") and err.count("\n") == 1


def test_every_command_has_its_page_in_the_docs() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "commands"
    names = {command[0] for command in every_command()}
    assert names == {page.stem for page in docs.glob("*.md")} - {"index"}


def test_the_program_exits_with_the_code_of_main_and_its_objects_frozen(monkeypatch) -> None:
    from qa2pack import cli
    from qa2pack.cli import app

    monkeypatch.setattr(app, "main", lambda: 3)
    monkeypatch.setattr(cli, "exit_without_teardown", sys.exit)  # in-process: the real one ends pytest too
    try:
        with pytest.raises(SystemExit) as exited:
            cli.run_and_exit()
        assert exited.value.code == 3
        assert gc.get_freeze_count() > 0  # the interpreter's last collection has nothing to scan
    finally:
        gc.unfreeze()


THREAD_AND_HANDLER = """
import atexit, sys, threading, time
from qa2pack import cli
atexit.register(print, "exit handler ran")
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", flush=True))).start()
sys.argv = ["qa2pack", "config", "--json"]
cli.run_and_exit()
"""


BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # as for most users


@pytest.mark.parametrize("case", ["alone", "thread"])
def test_the_program_runs_exit_handlers_and_waits_for_threads_before_it_ends(case: str) -> None:
    done = subprocess.run([sys.executable, "-c", THREAD_AND_HANDLER, case], capture_output=True, text=True, env=BUFFERED)
    assert done.returncode == 0 and done.stderr == ""
    document, _, after = done.stdout.rpartition("}\n")
    assert json.loads(document + "}")["command"] == "config"
    assert after.splitlines() == (["thread finished"] if case == "thread" else []) + ["exit handler ran"]


def test_the_program_prints_everything_before_it_exits(tmp_path: Path) -> None:
    config = subprocess.run([sys.executable, "-m", "qa2pack", "config", "--json"], capture_output=True, text=True,
                            env=BUFFERED)
    assert config.returncode == 0 and json.loads(config.stdout)["command"] == "config"
    failed = subprocess.run([sys.executable, "-m", "qa2pack", "package", str(tmp_path / "missing"), str(tmp_path / "P"),
                             "--json"], capture_output=True, text=True, env=BUFFERED)
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1 and json.loads(failed.stdout)["exit_code"] == 2
