"""qa2pack: package an ALMA QA2 data reduction into the standard ALMA delivery.

The typed API is :func:`package` and :func:`plan_package` with :class:`PackageOptions`;
``QA_Packager`` keeps the signature of the observatory's ``QA2_Packaging_module.py`` so that
existing ``run_packaging.py`` scripts run unchanged.
"""

from ._version import __version__
from .api import package, plan_package, stage
from .compat import QA_Packager, QA_Pipeline_Stager
from .config import Config, load_config
from .errors import Qa2packError
from .model import Append, Mode, OusUids, Plan, Style
from .options import PackageOptions
from .report import RunReport

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
