"""Benchmark qa2pack against the standard tools on the same trees, in the same run, on every tree shape.

    python benchmarks/run.py --reps 5 --json benchmarks/latest.json --markdown benchmarks/latest.md

For each shape of ``shapes.py`` and each comparison it holds, reports the median wall time over
``--reps`` alternated pairs (after one warm-up run of each, so every command sees a warm page
cache), the ratio qa2pack / peer of the medians and of every pair, the target and whether it
holds, and qa2pack's peak memory:

    package --mode hard   vs  cp -al                                 target <= 0.9
    package --mode fake   vs  cp -al                                 target <= 0.9
    package --mode copy   vs  cp -a + md5sum of every copied file    target <= 0.7
    tarsplit (md5 sidecars) vs tar cf + md5sum of the tar            target <= 0.7
    verify of a copy package vs md5sum -c of the same files         target <= 0.8

then inspect alone at several tree sizes (target <= 5 us per file), with the peak memory of
``package --mode hard`` on them (target <= 0.35 KB per file + 30 MB), and the peak memory of
package (hard, copy) on trees of the same file count and growing data (must stay flat).

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
from shapes import SHAPES  # noqa: E402

QA2PACK = [sys.executable, "-m", "qa2pack"]
FLOOR = [sys.executable, str(Path(__file__).resolve().parent / "floor.py")]


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
    pairs = [ours / peer for ours, peer in zip(ours_times, peer_times)]
    return {"qa2pack_s": round(ours_median, 3), "peer_s": round(peer_median, 3),
            "ratio": round(ours_median / peer_median, 2), "pair_min": round(min(pairs), 2),
            "pair_max": round(max(pairs), 2), "qa2pack_peak_mb": max(memory),
            "qa2pack_runs": [round(t, 3) for t in ours_times], "peer_runs": [round(t, 3) for t in peer_times]}


def count_files(root: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(root))


TARGETS = {"hard": 0.9, "fake": 0.9, "copy": 0.7, "tarsplit": 0.7, "verify": 0.8}
PEERS = {"hard": "cp -al", "fake": "cp -al", "copy": "cp -a + md5sum", "tarsplit": "tar cf + md5sum",
         "verify": "md5sum -c"}
INSPECT_US_PER_FILE = 5.0
MEMORY_KB_PER_FILE, MEMORY_FIXED_MB = 0.35, 30.0


def quiet(argv: list[str], cwd: Path | None = None, stdout: object = subprocess.DEVNULL) -> None:
    subprocess.run(argv, check=True, cwd=cwd, env=dict(os.environ, CI="1"), stdout=stdout,  # type: ignore[arg-type]
                   stderr=subprocess.DEVNULL)


def compare(kind: str, sb: Path, work: Path, reps: int) -> dict[str, object]:
    """Run one comparison on one tree: qa2pack and its peer, ``reps`` alternated pairs."""
    package, peer_out = work / "2019.1.00001.S", work / "peer"
    if kind in ("hard", "fake", "copy"):
        ours = QA2PACK + ["package", str(sb), str(package), "--mode", kind, "-q"]
        peer = [["cp", "-al" if kind != "copy" else "-a", str(sb), str(peer_out)]]
        if kind == "copy":
            peer.append(["find", str(peer_out), "-type", "f", "-exec", "md5sum", "{}", "+"])
        row = measure(reps, ours, peer, work, [package, peer_out])
        if kind == "hard":  # the least any Python program does for it: walk, folders, links on two threads
            floor_out = work / "floor"
            _add_floor(row, measure(reps, FLOOR + ["link", str(sb), str(floor_out)], [peer[0]], work,
                                    [floor_out, peer_out]))
    elif kind == "tarsplit":
        quiet(QA2PACK + ["package", str(sb), str(package), "--mode", "hard", "-q"])
        tars, peer_tar = work / "tars", work / "peer.tar"
        peer_chain = [["tar", "cf", str(peer_tar), "-C", str(work), package.name], ["md5sum", str(peer_tar)]]
        row = measure(reps, QA2PACK + ["tarsplit", str(package), "--output", str(tars), "--placeholder-names", "-q"],
                      peer_chain, work, [tars, peer_tar])
        floor_tar = work / "floor.tar"  # the same tar, kept: the floor only hashes it, in one stream
        quiet(["tar", "cf", str(floor_tar), "-C", str(work), package.name])
        _add_floor(row, measure(reps, FLOOR + ["stream", str(floor_tar)], peer_chain, work, [peer_tar]))
        clean(package, floor_tar)
    else:  # verify: a copy package with its md5 manifest, and md5sum -c of the same files
        quiet(QA2PACK + ["package", str(sb), str(package), "--mode", "copy", "-q"])
        sums = work / "peer.md5"
        with open(sums, "wb") as handle:
            quiet(["find", ".", "-type", "f", "-exec", "md5sum", "{}", "+"], cwd=package, stdout=handle)
        row = measure(reps, QA2PACK + ["verify", str(package), "-q"],
                      [["md5sum", "-c", "--quiet", str(sums)]], package, [])
        _add_floor(row, measure(reps, FLOOR + ["md5", str(sums)], [["md5sum", "-c", "--quiet", str(sums)]],
                                package, []))
        clean(package, sums)
    row["target"] = TARGETS[kind]
    row["holds"] = bool(row["ratio"] <= TARGETS[kind])  # type: ignore[operator]
    return row


def _add_floor(row: dict[str, object], floor: dict[str, float]) -> None:
    row["floor_ratio"], row["floor_pair_min"], row["floor_pair_max"] = floor["ratio"], floor["pair_min"], floor["pair_max"]
    row["floor_runs"], row["floor_peer_runs"] = floor["qa2pack_runs"], floor["peer_runs"]


def compile_installed() -> None:
    """Write the bytecode of the installed qa2pack, as ``pip install .`` does.

    An editable install under PYTHONDONTWRITEBYTECODE would otherwise compile every module in
    every timed run, which no installed tool does.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("qa2pack")
    if spec is not None and spec.origin is not None:
        compileall.compile_dir(str(Path(spec.origin).parent), quiet=1)


def run_shapes(names: list[str], work: Path, reps: int) -> dict[str, object]:
    shapes: dict[str, object] = {}
    for name in names:
        build, kinds, description = SHAPES[name]
        print(f"shape {name}: {description}", flush=True)
        sb = build(work / f"shape{name}")
        os.sync()
        files, size = count_files(sb), sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(sb) for f in fs)
        rows = {}
        for kind in kinds:
            rows[kind] = compare(kind, sb, work, reps)
            print(f"  {kind:9} {rows[kind]['ratio']:>5} (pairs {rows[kind]['pair_min']}-{rows[kind]['pair_max']})",
                  flush=True)
        shapes[name] = {"description": description, "files": files, "bytes": size, "comparisons": rows}
        shutil.rmtree(work / f"shape{name}")
    return shapes


def run_inspect(sizes: list[int], work: Path, reps: int) -> dict[str, object]:
    scaling: dict[str, object] = {}
    for size in sizes:
        tree = make_tree(work / f"inspect{size}", size, 0.0)
        files = count_files(tree)
        runs = [timed(QA2PACK + ["inspect", str(tree), "--json"], work)[0] for _ in range(reps)]
        floor_runs = [timed(FLOOR + ["walk", str(tree)], work)[0] for _ in range(reps)]
        packed, peer_copy = work / f"P{size}", work / f"peer{size}"
        hard = measure(reps, QA2PACK + ["package", str(tree), str(packed), "--mode", "hard", "-q"],
                       [["cp", "-al", str(tree), str(peer_copy)]], work, [packed, peer_copy])
        per_file = statistics.median(runs) / files * 1e6
        budget = MEMORY_FIXED_MB + MEMORY_KB_PER_FILE * files / 1024
        scaling[str(size)] = {"files": files, "inspect_s": round(statistics.median(runs), 3),
                              "inspect_runs": [round(r, 3) for r in runs], "us_per_file": round(per_file, 2),
                              "inspect_holds": per_file <= INSPECT_US_PER_FILE, "hard": hard,
                              "floor_us_per_file": round(statistics.median(floor_runs) / files * 1e6, 2),
                              "floor_runs": [round(r, 3) for r in floor_runs],
                              "package_peak_mb": hard["qa2pack_peak_mb"], "memory_budget_mb": round(budget, 1),
                              "memory_holds": hard["qa2pack_peak_mb"] <= budget}  # type: ignore[operator]
        print(f"inspect {files}: {per_file:.1f} us/file; hard {hard['ratio']}; peak {hard['qa2pack_peak_mb']} MB "
              f"(budget {budget:.0f})", flush=True)
        shutil.rmtree(work / f"inspect{size}")
    return scaling


def run_memory(files: int, gb: float, work: Path) -> dict[str, object]:
    memory: dict[str, object] = {}
    for size in (0.0, gb, round(3 * gb, 3)):
        tree = make_tree(work / f"memory{size}", files, size)
        row = {}
        for mode in ("hard", "copy"):
            packed = work / f"M{size}{mode}"
            row[f"{mode}_peak_mb"] = timed(QA2PACK + ["package", str(tree), str(packed), "--mode", mode, "-q"],
                                           work)[1]
            clean(packed)
        memory[str(size)] = row
        shutil.rmtree(work / f"memory{size}")
    return memory


PROBE_FOLDERS, PROBE_LINKS = 300, 3000


def filesystem_probe(work: Path) -> dict[str, float]:
    """Time, in microseconds, what ``cp -al`` spends its time on here: making a folder, and a hard link.

    Both move with the file system's state (a folder costs far more after many were made and
    removed), and every ratio to ``cp -al`` moves with them: the run records them at its start
    and its end, so that two runs' tables can be read side by side.
    """
    probe = work / "filesystem-probe"
    (probe / "links").mkdir(parents=True)
    (probe / "file").write_bytes(b"x")
    folder, source, links = str(probe), str(probe / "file"), str(probe / "links")
    start = time.perf_counter()
    for n in range(PROBE_FOLDERS):
        os.mkdir(f"{folder}/d{n}")
    folder_us = (time.perf_counter() - start) / PROBE_FOLDERS * 1e6
    start = time.perf_counter()
    for n in range(PROBE_LINKS):
        os.link(source, f"{links}/l{n}")
    link_us = (time.perf_counter() - start) / PROBE_LINKS * 1e6
    shutil.rmtree(probe)
    return {"folder_us": round(folder_us, 1), "link_us": round(link_us, 1)}


def machine() -> dict[str, object]:
    """The machine the run timed: cores, processor, Python, system, and minutes since it started."""
    facts: dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                                "system": platform.platform()}
    try:
        facts["cpu"] = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                            if line.startswith("model name"))
        facts["up_minutes"] = round(float(Path("/proc/uptime").read_text().split()[0]) / 60)
    except (OSError, StopIteration, ValueError, IndexError):
        pass  # not Linux: the cores, Python and system say enough
    return facts


def markdown(results: dict) -> str:  # type: ignore[type-arg]
    """The published tables: every shape, every comparison, every repetition, holds or not."""
    lines = [f"Run of {results['date']} on {results['machine']['cpus']} cores, Python {results['machine']['python']}, "
             f"{results['reps']} alternated pairs per comparison: `{results['command']}`", ""]
    if "filesystem" in results:
        host, fs = results["machine"], results["filesystem"]
        up = f", up {host['up_minutes']} minutes when the run began" if "up_minutes" in host else ""
        lines += [f"Machine: {host.get('cpu', host['system'])}{up}. Making a folder took {fs['start']['folder_us']} µs "
                  f"and a hard link {fs['start']['link_us']} µs at the start of the run, {fs['end']['folder_us']} and "
                  f"{fs['end']['link_us']} µs at its end (`cp -al` does little else).", ""]
    lines += [
             "| shape | files | data | comparison | qa2pack (s) | peer (s) | ratio | pairs | target | holds | "
             "peak MB | Python floor |", "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: | --- | ---: | --- |"]
    for name, shape in results["shapes"].items():
        for kind, row in shape["comparisons"].items():
            floor = (f"{row['floor_ratio']} ({row['floor_pair_min']} to {row['floor_pair_max']})"
                     if "floor_ratio" in row else "")
            lines.append(f"| {name} | {shape['files']:,} | {shape['bytes'] / 1e9:.2f} GB | {kind} vs {PEERS[kind]} | "
                         f"{row['qa2pack_s']} | {row['peer_s']} | {row['ratio']} | {row['pair_min']} to "
                         f"{row['pair_max']} | <= {row['target']} | {'yes' if row['holds'] else '**no**'} | "
                         f"{row['qa2pack_peak_mb']} | {floor} |")
    lines += ["", "| shape | comparison | qa2pack, every repetition (s) | peer, every repetition (s) |",
              "| --- | --- | --- | --- |"]
    for name, shape in results["shapes"].items():
        for kind, row in shape["comparisons"].items():
            lines.append(f"| {name} | {kind} | {', '.join(map(str, row['qa2pack_runs']))} | "
                         f"{', '.join(map(str, row['peer_runs']))} |")
            if "floor_runs" in row:
                lines.append(f"| {name} | {kind}: Python floor (`floor.py`) | {', '.join(map(str, row['floor_runs']))} "
                             f"| {', '.join(map(str, row['floor_peer_runs']))} |")
    lines += ["", "| inspect | files | median (s) | per file | target | holds | Python floor (walk and stat) | "
              "package --mode hard peak MB | budget MB | holds | hard / cp -al |",
              "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |"]
    for size, row in results["inspect"].items():
        lines.append(f"| {int(size) // 1000}k | {row['files']:,} | {row['inspect_s']} | {row['us_per_file']} us | "
                     f"<= {INSPECT_US_PER_FILE} us | {'yes' if row['inspect_holds'] else '**no**'} | "
                     f"{row['floor_us_per_file']} us | "
                     f"{row['package_peak_mb']} | {row['memory_budget_mb']} | "
                     f"{'yes' if row['memory_holds'] else '**no**'} | {row['hard']['ratio']} |")
    if results.get("memory"):
        lines += ["", f"| package peak MB, {results['memory_files']:,} files | " +
                  " | ".join(f"{gb} GB" for gb in results["memory"]) + " |",
                  "| --- |" + " ---: |" * len(results["memory"])]
        for mode in ("hard", "copy"):
            lines.append(f"| {mode} | " + " | ".join(str(row[f"{mode}_peak_mb"]) for row in results["memory"].values())
                         + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=",".join(SHAPES), help=f"comma list of {', '.join(SHAPES)} (default all)")
    parser.add_argument("--reps", type=int, default=5, help="timed alternated pairs (default 5)")
    parser.add_argument("--inspect", default="10000,100000,300000", help="tree sizes for the inspect scaling")
    parser.add_argument("--memory-files", type=int, default=20_000, help="files of the memory trees (default 20000)")
    parser.add_argument("--memory-gb", type=float, default=2.0, help="GB of the middle memory tree (default 2)")
    parser.add_argument("--work", type=Path, help="work folder (default: a temporary one, removed afterwards)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--markdown", type=Path, help="also write the published tables here")
    args = parser.parse_args()
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="qa2pack-bench-")) if own else args.work
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {  # type: ignore[type-arg]
        "date": time.strftime("%Y-%m-%d"), "command": "python benchmarks/run.py " + " ".join(sys.argv[1:]),
        "machine": machine(), "reps": args.reps, "memory_files": args.memory_files,
    }
    compile_installed()
    try:
        start = filesystem_probe(work)
        results["shapes"] = run_shapes([s for s in args.shapes.split(",") if s], work, args.reps)
        results["inspect"] = run_inspect([int(s) for s in args.inspect.split(",") if s], work, args.reps)
        results["memory"] = run_memory(args.memory_files, args.memory_gb, work) if args.memory_gb >= 0 else {}
        results["filesystem"] = {"start": start, "end": filesystem_probe(work)}
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
