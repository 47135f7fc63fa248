"""Benchmark qa2pack against the standard tools on the same generated tree, in the same run.

    python benchmarks/run.py --files 20000 --gb 2 --reps 3 --inspect 10000,100000,300000

Reports the median wall time over ``--reps`` repetitions (after one warm-up run of each, so
every command sees a warm page cache) and the ratio qa2pack / peer:

    package --mode hard   vs  cp -al
    package --mode fake   vs  cp -al
    package --mode copy   vs  cp -a + md5sum of every copied file
    tarsplit (md5 sidecars) vs tar cf + md5sum of the tar
    inspect alone at several tree sizes (growth should be linear), with package --mode hard
    vs cp -al and the peak memory of package on the same trees
    peak memory of package (hard, copy) on trees of the same file count and growing data

Needs only Python, the installed ``qa2pack`` and coreutils/tar; prints a table and, with
``--json FILE``, writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import make_tree  # noqa: E402

QA2PACK = [sys.executable, "-m", "qa2pack"]


def timed(argv: list[str], cwd: Path, stdout: int | None = subprocess.DEVNULL) -> tuple[float, int]:
    """Run a command (no shell); return wall seconds and the child's peak memory in MB."""
    env = dict(os.environ, CI="1")  # no progress bars in the measured runs
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(argv)}\n{stderr}")
    return elapsed, usage.ru_maxrss // 1024


def clean(*paths: Path) -> None:
    """Remove earlier outputs, then let the file system settle (deletes are written back first)."""
    _remove(*paths)
    os.sync()


def _remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        for sibling in path.parent.glob(path.name + ".*"):
            _remove(sibling) if sibling.is_dir() else sibling.unlink()


def measure(reps: int, ours: list[str], peer: list[list[str]], work: Path, cleanup: list[Path]) -> dict[str, float]:
    """Median times of ours and of the peer command chain, alternating, after one warm-up each."""
    ours_times, peer_times, memory = [], [], []
    for rep in range(reps + 1):
        # Alternate who goes first, so neither always inherits the other's write-back.
        for turn in ((0, 1) if rep % 2 else (1, 0)):
            clean(*cleanup)
            if turn == 0:
                seconds, mb = timed(ours, work)
                if rep:
                    ours_times.append(seconds)
                    memory.append(mb)
            else:
                total = sum(timed(argv, work)[0] for argv in peer)
                if rep:
                    peer_times.append(total)
    clean(*cleanup)
    ours_median, peer_median = statistics.median(ours_times), statistics.median(peer_times)
    return {"qa2pack_s": round(ours_median, 3), "peer_s": round(peer_median, 3),
            "ratio": round(ours_median / peer_median, 2), "qa2pack_peak_mb": max(memory),
            "qa2pack_runs": [round(t, 3) for t in ours_times], "peer_runs": [round(t, 3) for t in peer_times]}


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=20_000, help="files in the main tree (default 20000)")
    parser.add_argument("--gb", type=float, default=2.0, help="GB of MS data in the main tree (default 2)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (default 3)")
    parser.add_argument("--inspect", default="10000,100000,300000", help="tree sizes for the inspect scaling")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", default="", help="comma list of: hard,fake,copy,tarsplit,inspect,memory")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="qa2pack-bench-")) if own else args.work
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "tree": {"files": args.files, "gb": args.gb}, "reps": args.reps,
    }
    try:
        sb = make_tree(work / "tree", args.files, args.gb)
        results["tree"] = {"files": count_files(sb), "bytes": sum(
            os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(sb) for f in fs)}
        package = work / "2019.1.00001.S"
        peer_out = work / "peer"
        rows = {}
        if not only or "hard" in only:
            rows["package --mode hard vs cp -al"] = measure(
                args.reps, QA2PACK + ["package", str(sb), str(package), "--mode", "hard", "-q"],
                [["cp", "-al", str(sb), str(peer_out)]], work, [package, peer_out])
        if not only or "fake" in only:
            rows["package --mode fake vs cp -al"] = measure(
                args.reps, QA2PACK + ["package", str(sb), str(package), "-q"],
                [["cp", "-al", str(sb), str(peer_out)]], work, [package, peer_out])
        if not only or "copy" in only:
            rows["package --mode copy (md5) vs cp -a + md5sum"] = measure(
                args.reps, QA2PACK + ["package", str(sb), str(package), "--mode", "copy", "-q"],
                [["cp", "-a", str(sb), str(peer_out)],
                 ["find", str(peer_out), "-type", "f", "-exec", "md5sum", "{}", "+"]], work, [package, peer_out])
        if not only or "tarsplit" in only:
            subprocess.run(QA2PACK + ["package", str(sb), str(package), "--mode", "hard", "-q"], check=True,
                           env=dict(os.environ, CI="1"), stderr=subprocess.DEVNULL)
            tars, peer_tar = work / "tars", work / "peer.tar"
            rows["tarsplit (md5 sidecars) vs tar cf + md5sum"] = measure(
                args.reps, QA2PACK + ["tarsplit", str(package), "--output", str(tars), "-q"],
                [["tar", "cf", str(peer_tar), "-C", str(work), package.name], ["md5sum", str(peer_tar)]],
                work, [tars, peer_tar])
            clean(package)
        results["comparisons"] = rows
        scaling = {}
        if not only or "inspect" in only:
            for size in (int(s) for s in args.inspect.split(",") if s):
                tree = make_tree(work / f"inspect{size}", size, 0.0)
                times = sorted(timed(QA2PACK + ["inspect", str(tree), "--json"], work)[0] for _ in range(args.reps))
                packed, peer_copy = work / f"P{size}", work / f"peer{size}"
                hard = measure(args.reps, QA2PACK + ["package", str(tree), str(packed), "--mode", "hard", "-q"],
                               [["cp", "-al", str(tree), str(peer_copy)]], work, [packed, peer_copy])
                scaling[size] = {"files": count_files(tree), "inspect_s": round(statistics.median(times), 3),
                                 "package_hard_s": hard["qa2pack_s"], "cp_al_s": hard["peer_s"],
                                 "hard_ratio": hard["ratio"], "package_peak_mb": hard["qa2pack_peak_mb"]}
                shutil.rmtree(work / f"inspect{size}")
        results["inspect_scaling"] = scaling
        memory = {}
        if not only or "memory" in only:  # same file count, growing data: the peak must stay flat
            for gb in (0.0, args.gb, round(3 * args.gb, 3)):
                tree = make_tree(work / f"memory{gb}", args.files, gb)
                row = {}
                for mode in ("hard", "copy"):
                    packed = work / f"M{gb}{mode}"
                    row[f"{mode}_peak_mb"] = timed(QA2PACK + ["package", str(tree), str(packed), "--mode", mode,
                                                                "-q"], work)[1]
                    clean(packed)
                memory[str(gb)] = row
                shutil.rmtree(work / f"memory{gb}")
        results["memory_by_data_size"] = memory
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    print(f"tree: {results['tree']}; machine: {results['machine']}")
    print(f"{'comparison':48} {'qa2pack s':>10} {'peer s':>8} {'ratio':>6} {'peak MB':>8}")
    for name, row in results.get("comparisons", {}).items():  # type: ignore[union-attr]
        print(f"{name:48} {row['qa2pack_s']:>10} {row['peer_s']:>8} {row['ratio']:>6} {row['qa2pack_peak_mb']:>8}")
    for row in results.get("inspect_scaling", {}).values():  # type: ignore[union-attr]
        per = row["inspect_s"] / row["files"] * 1e6
        print(f"inspect {row['files']:>7} files: {row['inspect_s']:>7} s ({per:.1f} us/file); package hard "
              f"{row['package_hard_s']} s vs cp -al {row['cp_al_s']} s ({row['hard_ratio']}), "
              f"peak {row['package_peak_mb']} MB")
    for gb, row in results.get("memory_by_data_size", {}).items():  # type: ignore[union-attr]
        print(f"package peak with {args.files} files and {gb} GB: hard {row['hard_peak_mb']} MB, "
              f"copy {row['copy_peak_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
