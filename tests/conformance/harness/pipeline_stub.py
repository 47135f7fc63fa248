"""Load the ALMA pipeline's real PPR reader, manifest and restore code, with its infrastructure stubbed.

The unmodified ``executeppr.py``, ``XmlObjectifier.py``, ``filenamer.py``, ``manifest.py`` and
``restoredata.py`` are loaded as the modules they are in the pipeline
(``pipeline.infrastructure.executeppr`` and so on).  What they import from the rest of the
pipeline (CASA tools, logging, the context, task machinery) is replaced by small recorders, so
their own logic runs as written: how a PPR is read, how sessions are split, which files a
restore copies from ``products/`` and which caltables it extracts.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

LOG: list[str] = []  # what the real code posted to the CASA log
CALLS: list[tuple[str, dict[str, Any]]] = []  # pipeline tasks the real code called


def _module(name: str, package: bool = False, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    if package:
        module.__path__ = []  # type: ignore[attr-defined]
    module.__dict__.update(attrs)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    spec.loader.exec_module(module)
    return module


class _Record:
    """A plain object with attributes (project structures, performance parameters, results)."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


class VisDependentProperty:
    """Stand-in for the pipeline's vdp.VisDependentProperty: a value, or its default / getter."""

    def __init__(self, fget: Any = None, default: Any = None, **_: Any) -> None:
        self.fget, self.default = fget, default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = "_vdp_" + name

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.name)
        if value is not None:
            return value
        return self.fget(instance) if self.fget is not None else self.default

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.name] = value


def _glob_ordered(pattern: str) -> list[str]:
    return sorted(glob.glob(pattern))


def _stub_infrastructure() -> None:
    _module("pipeline", package=True)
    _module("pipeline.extern", package=True)
    _module("pipeline.extern.almarenorm_pl2023", alma_renorm=lambda *a, **k: None)
    _module("pipeline.environment", cluster_details=lambda: [])
    _module("pipeline.infrastructure", package=True, get_logger=logging.getLogger)
    _module("pipeline.infrastructure.casa_tools",
            post_to_log=lambda *args, **kwargs: LOG.append(" ".join(str(a) for a in args)),
            set_log_origin=lambda *args, **kwargs: None)
    _module("pipeline.infrastructure.exceptions", PipelineException=type("PipelineException", (Exception,), {}))
    _module("pipeline.infrastructure.utils", glob_ordered=_glob_ordered,
            write_errorexit_file=lambda *a, **k: LOG.append("errorexit"), get_tracebacks=lambda results: [],
            export_weblog_as_tar=lambda *a, **k: None, to_CASA_intent=lambda ms, intent: intent)
    _module("pipeline.infrastructure.project", ProjectSummary=_Record, ProjectStructure=_Record,
            PerformanceParameters=_Record)
    _module("pipeline.infrastructure.basetask", StandardTaskTemplate=object, Results=_Record)
    _module("pipeline.infrastructure.vdp", StandardInputs=object, VisDependentProperty=VisDependentProperty,
            InputsContainer=_Record)
    _module("pipeline.infrastructure.casa_tasks")
    _module("pipeline.infrastructure.task_registry", set_equivalent_casa_task=lambda name: (lambda cls: cls))

    def task(name: str) -> Any:
        def run(**kwargs: Any) -> Any:
            CALLS.append((name, kwargs))
            return None
        return run

    contexts: list[_Record] = []

    def h_init(**kwargs: Any) -> _Record:
        contexts.append(_Record(processing_intents={}))
        return contexts[-1]

    def h_save(**kwargs: Any) -> None:
        if not contexts:  # as the pipeline's h_save: nothing to save before h_init
            raise RuntimeError("no pipeline context")

    _module("pipeline.cli", h_init=h_init, h_save=h_save, h_resume=lambda **kwargs: h_init(),
            get_pipeline_task_with_name=task)
    _module("pipeline.h", package=True)
    _module("pipeline.h.tasks", package=True)
    _module("pipeline.h.tasks.common", package=True)
    _module("pipeline.h.tasks.applycal")
    _module("pipeline.h.tasks.importdata")
    _module("pipeline.h.tasks.restoredata", package=True)


@contextmanager
def real_pipeline(conformance: Path) -> Iterator[types.SimpleNamespace]:
    """Load the real pipeline modules from ``conformance/pipeline`` for the duration of a block."""
    saved = {k: v for k, v in sys.modules.items() if k == "pipeline" or k.startswith("pipeline.")}
    for key in saved:
        del sys.modules[key]
    source = conformance / "pipeline"
    try:
        _stub_infrastructure()
        xml_objectifier = _load("pipeline.extern.XmlObjectifier", source / "XmlObjectifier.py")
        filenamer = _load("pipeline.infrastructure.filenamer", source / "filenamer.py")
        executeppr = _load("pipeline.infrastructure.executeppr", source / "executeppr.py")
        manifest = _load("pipeline.h.tasks.common.manifest", source / "manifest.py")
        restoredata = _load("pipeline.h.tasks.restoredata.restoredata", source / "restoredata.py")
        yield types.SimpleNamespace(XmlObjectifier=xml_objectifier, filenamer=filenamer, executeppr=executeppr,
                                    manifest=manifest, restoredata=restoredata, log=LOG, calls=CALLS)
    finally:
        for key in [k for k in sys.modules if k == "pipeline" or k.startswith("pipeline.")]:
            del sys.modules[key]
        sys.modules.update(saved)
        LOG.clear()
        CALLS.clear()


def restore_as_pipeline(pipeline: types.SimpleNamespace, vis: list[str], session: list[str]) -> list[str]:
    """Do what ``hifa_restoredata`` does with files, in the working folder: return the MSs it leaves.

    The real RestoreData copies the manifest and every file it names from ``../products`` to
    ``../rawdata``, reads the sessions, and extracts each session's caltables; importing the
    ASDMs and applying calibrations (CASA's work) is replaced by making the ``<eb>.ms`` folders.
    """
    module = pipeline.restoredata
    context = _Record(products_dir=None, project_structure=None,
                      observing_run=_Record(measurement_sets=[]))
    inputs = module.RestoreDataInputs(context, products_dir=os.path.abspath("../products"),
                                      rawdata_dir=os.path.abspath("../rawdata"), output_dir=os.getcwd(),
                                      session=list(session), vis=list(vis))
    task = object.__new__(module.RestoreData)
    task.inputs = inputs
    task._do_copy_manifest_toraw("*pipeline_manifest.xml")
    manifest = task._do_get_manifest("*pipeline_manifest.xml", "*cal*pipeline_manifest.xml")
    task._do_copytoraw(manifest)
    vislist = [os.path.join(inputs.rawdata_dir, v) for v in vis]
    names, vislists = task._get_sessions(sessions=list(session), vis=vislist)
    task._do_restore_caltables(manifest, session_names=names, session_vislists=vislists)
    made = []
    for name in vis:
        os.makedirs(f"{name}.ms", exist_ok=True)
        made.append(f"{name}.ms")
    return made
