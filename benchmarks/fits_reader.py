"""Is qa2pack's own FITS reader worth keeping? A hard-link package with it, and with astropy reading instead.

    python benchmarks/fits_reader.py --files 20000 --reps 5 --json benchmarks/fits_reader.json

The same generated tree (one FITS image among ``--files`` files) is packaged with
``--mode hard`` ``--reps`` times each way, alternating which goes first; the second way makes
every FITS summary go through astropy (``_summarize_with_astropy``), as a single-reader design
would. The project keeps its own reader only while it saves 10 % or more of such a run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import make_tree  # noqa: E402

RUN = ("import sys\n"
       "import qa2pack.formats.fitsinfo as fitsinfo\n"
       "if sys.argv.pop(1) == 'astropy':\n"
       "    fitsinfo.summarize_fits = fitsinfo._summarize_with_astropy\n"
       "from qa2pack.cli import main\n"
       "sys.exit(main(sys.argv[1:]))\n")


def package_once(reader: str, origin: Path, work: Path) -> float:
    """Package the tree once with the given reader; return the wall seconds."""
    packpath = work / reader / "2011.0.00229.S"
    shutil.rmtree(packpath.parent, ignore_errors=True)
    os.sync()
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN, reader, "package", str(origin), str(packpath), "--mode", "hard", "-q"],
                   check=True, env=dict(os.environ, CI="1"), stderr=subprocess.DEVNULL)
    return time.perf_counter() - begin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20000)
    parser.add_argument("--gb", type=float, default=0.2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        work = Path(tmp)
        origin = make_tree(work / "orig", args.files, args.gb)
        times: dict[str, list[float]] = {"own": [], "astropy": []}
        for reader in times:  # warm the page cache and the imports once each
            package_once(reader, origin, work)
        for rep in range(args.reps):
            order = ["own", "astropy"] if rep % 2 == 0 else ["astropy", "own"]
            for reader in order:
                times[reader].append(package_once(reader, origin, work))
    own, astropy = statistics.median(times["own"]), statistics.median(times["astropy"])
    result = {"files": args.files, "reps": times, "median_own": round(own, 3), "median_astropy": round(astropy, 3),
              "astropy_slower_by": round(astropy / own - 1, 3), "python": sys.version.split()[0]}
    print(f"own reader {own:.3f} s, astropy {astropy:.3f} s (median of {args.reps}); astropy makes the run "
          f"{100 * (astropy / own - 1):.0f} % slower; every repetition: {json.dumps(times)}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
