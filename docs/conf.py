"""Sphinx configuration of the qa2pack documentation (MyST Markdown pages, API from the docstrings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from qa2pack import __version__  # noqa: E402

project = "qa2pack"
author = "the qa2pack developers"
copyright = "2026, the qa2pack developers"  # noqa: A001
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
nitpicky = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_mock_imports = ["casacore", "astropy", "numpy"]
napoleon_numpy_docstring = True
html_theme = "alabaster"
html_title = f"qa2pack {version}"
