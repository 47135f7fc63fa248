"""Every module imports on its own, and nothing in src/ calls a shell."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import qa2pack

SRC = Path(qa2pack.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(SRC)], prefix="qa2pack.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_alone(module: str) -> None:
    code = f"import importlib; importlib.import_module('{module}')"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_shell_anywhere_in_src() -> None:
    pattern = re.compile(r"os\.system|os\.popen|shell\s*=\s*True|import subprocess|from subprocess")
    offenders = [f"{p.name}:{n}" for p in SRC.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_python_m_qa2pack_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "qa2pack", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"qa2pack {qa2pack.__version__}"
    importlib.import_module("qa2pack.cli")


def test_every_public_name_resolves_and_the_package_loads_nothing_heavy() -> None:
    for name in qa2pack.__all__:
        assert getattr(qa2pack, name) is not None
    with pytest.raises(AttributeError):
        qa2pack.no_such_name  # noqa: B018
    # Start-up is part of every run: the command line must not load what only some runs need.
    code = ("import sys, qa2pack.cli, qa2pack.api; print(' '.join(m for m in "
            "('multiprocessing', 'tomllib', 'astropy', 'numpy', 'casacore', 'rich', '_hashlib') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == ""


def test_no_module_hides_a_public_name() -> None:
    """Importing a submodule sets an attribute of its package: none may be named like the API."""
    code = ("import importlib, inspect, sys, qa2pack\n"
            f"for name in {MODULES!r}: importlib.import_module(name)\n"
            "print([n for n in qa2pack.__all__ if inspect.ismodule(getattr(qa2pack, n))])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_the_children_that_work_ahead_are_forked_before_typing_is_loaded() -> None:
    """The read-ahead and the hashing ahead fork as soon as the program starts: what loads first, delays them."""
    code = ("import sys; before = set(sys.modules); import qa2pack.cli; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "qa2pack.scan.ahead" in loaded and "qa2pack.delivery.ahead" in loaded
    assert not {"typing", "signal", "enum", "re", "collections"} & set(loaded)


def test_the_child_that_hashes_ahead_loads_only_the_core_before_it_hashes() -> None:
    """It locks the package and reads the manifest with modules that load nothing more: it hashes while the verify loads."""
    code = ("import sys; import qa2pack.cli; before = set(sys.modules); "
            "import qa2pack.formats.md5runs, qa2pack.run.lockfile; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "qa2pack.formats.md5runs" in loaded and "qa2pack.run.lockfile" in loaded
    assert not {"typing", "pathlib", "re", "json", "enum", "collections", "qa2pack.core.errors"} & set(loaded)
