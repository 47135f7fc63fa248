"""Run the archive's real ingest checks on delivery tars, under Python 2.7 like the archive (test harness).

Usage: python2.7 gate.py INGEST_DIR TAR [TAR ...]

Imports the unmodified ``reingestion_automatic.py`` and ``all_automatic_dmg.py`` from INGEST_DIR
with a stub ``cx_Oracle`` (the functions used here never reach the database) and, for each tar:

- ``checkReadme`` of both scripts (the README gate; the message it sets on failure);
- ``md5sum`` of ``reingestion_automatic.py`` (compares the ``<tar>.md5sum`` sidecar; exits on failure);
- the ``__main__`` of ``all_automatic_dmg.py`` run with a stub database that records its queries, and
  ``subprocess.call``/``check_output`` replaced by recorders: it prints the MOUS it parsed from the tar
  name, queries the database with it, checks the README and stops where it would repack the tar.

Prints one JSON document after the line ``=== results ===``.
"""
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
import types

INGEST_DIR = os.path.abspath(sys.argv[1])
TARS = [os.path.abspath(t) for t in sys.argv[2:]]


class Stop(Exception):
    """Raised where the real ingest would go on to the real archive."""


QUERIES = []
COMMANDS = []


class Cursor(object):
    def __init__(self):
        self.rows = []

    def execute(self, sql):
        QUERIES.append(sql)
        if "count (*)" in sql:
            self.rows = [[0]]  # no earlier delivery, no file in NGAS yet: a new tar
        else:
            raise Stop("query of the project's EBs: the real archive is needed from here on")

    def fetchone(self):
        return self.rows.pop(0) if self.rows else None


class Connection(object):
    def cursor(self):
        return Cursor()

    def close(self):
        pass


stub = types.ModuleType("cx_Oracle")
stub.connect = lambda *args, **kwargs: Connection()
sys.modules["cx_Oracle"] = stub
sys.path.insert(0, INGEST_DIR)
sys.dont_write_bytecode = True
import all_automatic_dmg  # noqa: E402
import reingestion_automatic  # noqa: E402


def record_call(command, *args, **kwargs):
    COMMANDS.append(command)
    return 0


def record_check_output(command, *args, **kwargs):
    COMMANDS.append(command)
    if ".old" in str(command):
        raise Stop("repacking (cycle1Tar.py) needs the archive's database")
    return ""


class Capture(object):
    """Collect what the real code prints (Python 2 print statements write to sys.stdout)."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def text(self):
        return "".join(self.parts)


results = {}
for tar in TARS:
    name = os.path.basename(tar)
    work = tempfile.mkdtemp(prefix="ingest-")
    os.chdir(work)
    result = {}
    for label, module in (("reingestion", reingestion_automatic), ("all_automatic", all_automatic_dmg)):
        module.GLOBAL_ERROR = None
        saved, sys.stdout = sys.stdout, Capture()
        try:
            ok = module.checkReadme(tar)
        except Exception as exc:  # what the archive would see as a crash of its gate
            ok, module.GLOBAL_ERROR = False, "%s: %s" % (type(exc).__name__, exc)
        finally:
            sys.stdout = saved
        result["checkReadme_" + label] = {"ok": bool(ok), "error": module.GLOBAL_ERROR}
    saved, sys.stdout = sys.stdout, Capture()
    try:
        reingestion_automatic.md5sum(tar)
        result["md5sum"] = "correct"
    except SystemExit:
        result["md5sum"] = "incorrect"
    finally:
        md5_output = sys.stdout.text()
        sys.stdout = saved
    if os.path.exists(tar + ".md5sum.jao"):
        os.remove(tar + ".md5sum.jao")
    # The whole automatic ingest, in the folder holding the tar, as the archive runs it.
    os.chdir(os.path.dirname(tar))
    del QUERIES[:]
    del COMMANDS[:]
    real_call, real_check_output = subprocess.call, subprocess.check_output
    subprocess.call, subprocess.check_output = record_call, record_check_output
    saved_argv, sys.argv = sys.argv, ["all_automatic_dmg.py", name]
    saved, sys.stdout = sys.stdout, Capture()
    stopped = None
    try:
        runpy.run_path(os.path.join(INGEST_DIR, "all_automatic_dmg.py"), run_name="__main__")
    except Stop as exc:
        stopped = str(exc)
    except SystemExit as exc:
        stopped = "exit: %s" % (exc.code,)
    finally:
        printed = sys.stdout.text()
        sys.stdout = saved
        sys.argv = saved_argv
        subprocess.call, subprocess.check_output = real_call, real_check_output
    for leftover in ("diff.out",):
        if os.path.exists(leftover):
            os.remove(leftover)
    mous = [line.split("=", 1)[1].strip() for line in printed.splitlines() if line.startswith("MOUSS =")]
    result["automatic"] = {
        "mous": mous[0] if mous else None,
        "queries": list(QUERIES),
        "stopped": stopped,
        "readme_ok": "README is OK" in printed,
        "mails": [c for c in COMMANDS if "mail" in str(c)],
        "printed": printed[-3000:],
    }
    shutil.rmtree(work, ignore_errors=True)
    results[name] = result

print("=== results ===")
print(json.dumps(results))
