"""qa2pack: package an ALMA QA2 data reduction into the standard ALMA delivery.

The typed API is :func:`package` and :func:`plan_package` with :class:`PackageOptions`;
``QA_Packager`` keeps the signature of the observatory's ``QA2_Packaging_module.py`` so that
existing ``run_packaging.py`` scripts run unchanged.

The names below are imported on first use, so that the command line loads only the
modules it needs (start-up is part of every run).
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False  # not typing's: the command line forks its read-ahead before loading typing
if TYPE_CHECKING:
    from typing import Any

    from .api import package, plan_package, stage
    from .compat import QA_Packager, QA_Pipeline_Stager
    from .core.config import Config, load_config
    from .core.errors import Qa2packError
    from .core.model import Append, Mode, Plan, Style
    from .core.options import PackageOptions
    from .delivery.layout import OusUids
    from .run.report import RunReport

_WHERE = {
    "package": "api", "plan_package": "api", "stage": "api",
    "QA_Packager": "compat", "QA_Pipeline_Stager": "compat",
    "Config": "core.config", "load_config": "core.config",
    "Qa2packError": "core.errors",
    "Append": "core.model", "Mode": "core.model", "OusUids": "delivery.layout", "Plan": "core.model",
    "Style": "core.model",
    "PackageOptions": "core.options",
    "RunReport": "run.report",
}

__all__ = [
    "Append",
    "Config",
    "Mode",
    "OusUids",
    "PackageOptions",
    "Plan",
    "QA_Packager",
    "QA_Pipeline_Stager",
    "Qa2packError",
    "RunReport",
    "Style",
    "__version__",
    "load_config",
    "package",
    "plan_package",
    "stage",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'qa2pack' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
