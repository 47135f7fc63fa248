"""Run a real scriptForPI.py in a restored delivery, with CASA replaced by recorders (test harness).

Usage: python casa_session.py SCRIPT_FOR_PI SCRIPT_DIR SPACESAVING [CONFORMANCE_DIR]

Runs under Python 2.7 (scriptForPI v1.11, CASA 4) or Python 3 (v1.34, CASA 6).  The script runs
unmodified in SCRIPT_DIR, exactly as a PI would start it there, with the globals CASA gives it:
``casalog``, ``msmd``, ``execfile`` and the CASA and pipeline tasks.  Each task is a recorder that
logs its arguments and leaves behind what the real task writes (the MS, caltable or image it
names), so the script's own checks run as they do in CASA.  Under Python 3 with CONFORMANCE_DIR,
``hifa_restoredata`` is the pipeline's real restore code (pipeline_stub.restore_as_pipeline): it
finds the manifest, copies every product it names and extracts the caltables.

Prints one JSON document (tasks called, how the script ended) after ``=== results ===``.
"""
from __future__ import print_function

import json
import os
import sys
import traceback

SCRIPT_FOR_PI = os.path.abspath(sys.argv[1])
SCRIPT_DIR = os.path.abspath(sys.argv[2])
SPACESAVING = int(sys.argv[3])
CONFORMANCE = sys.argv[4] if len(sys.argv) > 4 else ""

CALLS = []
# The arguments in which a CASA task names what it writes, and whether that is a folder (a table).
OUTPUTS = {"vis": True, "outputvis": True, "caltable": True, "concatvis": True, "fitsimage": False}
WRITES_VIS = ("importasdm", "importuvfits")


def make_output(path, folder):
    if not path or os.path.exists(path):
        return
    if folder:
        os.makedirs(path)
        with open(os.path.join(path, "table.info"), "w") as handle:
            handle.write("Type = Measurement Set\n")
    else:
        with open(path, "w") as handle:
            handle.write("recorded output\n")


def task(name):
    def record(*args, **kwargs):
        CALLS.append({"task": name, "args": [str(a) for a in args],
                      "kwargs": dict((k, str(v)) for k, v in kwargs.items()), "cwd": os.getcwd()})
        if name == "importasdm" and len(args) > 1:
            kwargs.setdefault("vis", args[1])
        if name in ("split", "mstransform") and len(args) > 1:
            kwargs.setdefault("outputvis", args[1])
        for key, folder in OUTPUTS.items():
            if key == "vis" and name not in WRITES_VIS:
                continue
            value = kwargs.get(key)
            for path in (value if isinstance(value, (list, tuple)) else [value]):
                make_output(path, folder)
        if name in ("tclean", "clean") and kwargs.get("imagename"):
            make_output(kwargs["imagename"] + ".image", True)
        if name == "hifa_restoredata":  # what importdata and applycal leave in working/
            for vis in kwargs.get("vis", ()):
                make_output(os.path.basename(vis) + ".ms", True)
        return None
    return record


CASA_TASKS = ("importasdm", "listobs", "flagdata", "flagmanager", "flagcmd", "fixsyscaltimes", "fixplanets",
              "wvrgcal", "gencal", "applycal", "split", "mstransform", "bandpass", "gaincal", "fluxscale", "setjy",
              "plotms", "plotbandpass", "plotcal", "tclean", "clean", "concat", "exportfits", "statwt", "uvcontsub",
              "imstat", "impbcor", "immath", "delmod", "clearcal", "polcal", "imhead")
PIPELINE_TASKS = ("h_init", "h_save", "h_resume", "hifa_importdata", "hif_mstransform", "hifa_flagtargets",
                  "hif_uvcontfit", "hif_uvcontsub", "hifa_restoredata")


class Log(object):
    def post(self, message, priority="INFO", origin=""):
        CALLS.append({"task": "casalog.post", "args": [str(message), str(priority)], "kwargs": {}, "cwd": ""})

    def origin(self, name):
        pass


class MetaData(object):
    """Stand-in for CASA's msmd tool on the MS a restore leaves: four science spws of 128 channels."""

    def open(self, vis):
        CALLS.append({"task": "msmd.open", "args": [vis], "kwargs": {}, "cwd": os.getcwd()})
        if not os.path.isdir(vis):
            raise RuntimeError("msmd.open: no MS named " + vis)

    def spwsforintent(self, intent):
        return [17, 19, 21, 23]

    def nchan(self, spw):
        return 128

    def close(self):
        pass


GLOBALS = {"__name__": "__main__", "casalog": Log(), "msmd": MetaData(), "SPACESAVING": SPACESAVING}
for _name in CASA_TASKS + PIPELINE_TASKS:
    GLOBALS[_name] = task(_name)

if sys.version_info[0] >= 3:
    import xml.etree.ElementTree

    sys.modules.setdefault("xml.etree.cElementTree", xml.etree.ElementTree)  # CASA 6 still ships it

    def execfile(path, globs=None, locs=None):
        globs = GLOBALS if globs is None else globs
        with open(path) as handle:
            code = compile(handle.read(), path, "exec", 0, True)  # not our __future__ flags
        exec(code, globs, globs if locs is None else locs)

    GLOBALS["execfile"] = execfile
    if CONFORMANCE:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import pipeline_stub

        def hifa_restoredata(vis=(), session=(), **kwargs):
            CALLS.append({"task": "hifa_restoredata", "args": [], "cwd": os.getcwd(),
                          "kwargs": {"vis": list(vis), "session": list(session)}})
            with pipeline_stub.real_pipeline(pipeline_stub.Path(CONFORMANCE)) as pipeline:
                made = pipeline_stub.restore_as_pipeline(pipeline, list(vis), list(session))
            CALLS.append({"task": "restored", "args": made, "kwargs": {}, "cwd": os.getcwd()})

        GLOBALS["hifa_restoredata"] = hifa_restoredata

ending = "completed"
os.chdir(SCRIPT_DIR)
try:
    with open(SCRIPT_FOR_PI) as source:
        code = compile(source.read(), SCRIPT_FOR_PI, "exec", 0, True)  # not our __future__ flags
    exec(code, GLOBALS)
except SystemExit as exc:
    ending = "exit: %s" % (exc.code,)
except Exception:  # the script (or a restore it started) crashed: the PI would see this traceback
    ending = "crashed: " + traceback.format_exc()
sys.stdout.flush()
print("=== results ===")
print(json.dumps({"ending": ending, "calls": CALLS}))
