"""Batches run for real on Dask: a local cluster, a scheduler with two workers (one killed), a stopped run.

Each test checks the results line by line against what ``verify`` says of each delivery, and that
the ledger holds every line exactly once.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from batch_helpers import DaskProcesses, corrupt, ledger_lines, linked_copies, wait_until
from qa2pack.batch import engine
from qa2pack.cli import main


def fixity_jobs(delivery: Path, folder: Path, count: int, bad: tuple[int, ...] = ()) -> Path:
    """A JOBS file of ``count`` verify lines, the deliveries numbered in ``bad`` corrupted."""
    copies = linked_copies(delivery, folder / "archive", count)
    for n in bad:
        corrupt(copies[n])
    jobs = folder / "fixity.jobs"
    # relative paths: a JOBS file's lines run in its own folder, wherever the worker started
    jobs.write_text("# fixity\n" + "".join(f"verify {c.relative_to(folder)}\n" for c in copies))
    return jobs


def assert_each_line_once(jobs: Path, count: int, bad: tuple[int, ...] = ()) -> list[dict]:
    records = ledger_lines(Path(f"{jobs}.ledger.jsonl"))
    assert Counter(r["line"] for r in records) == Counter(range(2, count + 2))  # every line, exactly once
    for record in records:
        n = record["line"] - 2
        assert record["exit_code"] == (1 if n in bad else 0), record
        assert record["summary"].startswith("FAILED" if n in bad else "OK"), record
        assert record["result"]["command"] == "verify" and record["host"] and record["finished"]
    return records


def test_a_local_cluster_by_default_then_a_rerun_and_a_retry(delivery: Path, tmp_path: Path, capsys) -> None:
    jobs = fixity_jobs(delivery, tmp_path, 6, bad=(4,))
    assert main(["batch", str(jobs), "--workers", "2", "--json"]) == 1  # one delivery is corrupted
    report = json.loads(capsys.readouterr().out)
    assert report["command"] == "batch" and not report["ok"]
    assert [line["state"] for line in report["lines"]] == ["succeeded"] * 4 + ["failed", "succeeded"]
    assert "2 worker processes" in report["where"]
    records = assert_each_line_once(jobs, 6, bad=(4,))
    assert len({r["pid"] for r in records}) == 2  # both workers took lines

    assert main(["batch", str(jobs), "--workers", "2"]) == 1  # nothing runs again; the failure stays
    output = capsys.readouterr().out
    assert "line 6 failed (exit 1): verify archive/004/delivered: FAILED" in output
    assert "0 succeeded, 1 failed, 5 done before (skipped)" in output
    assert len(ledger_lines(Path(f"{jobs}.ledger.jsonl"))) == 6

    # the archive operator restores the good tar; --retry-failed runs that line alone
    bad_folder = tmp_path / "archive" / "004" / "delivered"
    for tar in bad_folder.glob("*.tar"):
        tar.unlink()
        tar.write_bytes((delivery / tar.name).read_bytes())
    assert main(["batch", str(jobs), "--workers", "1", "--retry-failed", "-q"]) == 0
    records = ledger_lines(Path(f"{jobs}.ledger.jsonl"))
    assert len(records) == 7 and records[-1]["line"] == 6 and records[-1]["exit_code"] == 0


def test_a_scheduler_with_two_workers_survives_losing_one(delivery: Path, tmp_path: Path,
                                                          dask_processes: DaskProcesses) -> None:
    count, bad = 24, (3, 17)
    jobs = fixity_jobs(delivery, tmp_path, count, bad)
    address = dask_processes.start_scheduler()
    doomed = dask_processes.start_worker()
    dask_processes.start_worker()
    dask_processes.wait_for_workers(2)
    batch = subprocess.Popen([sys.executable, "-m", "qa2pack", "batch", str(jobs), "--scheduler", address, "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = Path(f"{jobs}.ledger.jsonl")
    wait_until(lambda: ledger.exists() and len(ledger_lines(ledger)) >= 3, 120, "three lines to finish")
    doomed.kill()  # SIGKILL: no goodbye to the scheduler; its lines must run again on the other worker
    stdout, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 1, stderr
    report = json.loads(stdout)
    assert Counter(line["state"] for line in report["lines"]) == {"succeeded": count - len(bad), "failed": len(bad)}
    records = assert_each_line_once(jobs, count, bad)
    assert doomed.wait(timeout=10) == -signal.SIGKILL
    survivor_pid = dask_processes.workers[1].pid
    assert {r["pid"] for r in records} <= {doomed.pid, survivor_pid}
    assert any(r["pid"] == survivor_pid for r in records[3:])


def test_a_stopped_batch_resumes_where_it_stopped(delivery: Path, tmp_path: Path) -> None:
    count = 16
    jobs = fixity_jobs(delivery, tmp_path, count)
    ledger = Path(f"{jobs}.ledger.jsonl")
    batch = subprocess.Popen([sys.executable, "-m", "qa2pack", "batch", str(jobs), "--workers", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: ledger.exists() and len(ledger_lines(ledger)) >= 2, 120, "two lines to finish")
    batch.send_signal(signal.SIGTERM)  # what a shell's kill, or a scheduler's time limit, sends
    _, stderr = batch.communicate(timeout=120)
    assert batch.returncode == 130, stderr
    assert "run the same command again" in stderr
    done_before = {r["line"] for r in ledger_lines(ledger)}
    assert 2 <= len(done_before) < count

    rerun = subprocess.run([sys.executable, "-m", "qa2pack", "batch", str(jobs), "--workers", "2", "--json"],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    states = {line["line"]: line["state"] for line in json.loads(rerun.stdout)["lines"]}
    assert {n for n, state in states.items() if state == "done before"} == done_before
    assert_each_line_once(jobs, count)


def test_two_batches_of_one_jobs_file_never_run_at_once(delivery: Path, tmp_path: Path) -> None:
    jobs = fixity_jobs(delivery, tmp_path, 8)
    ledger = Path(f"{jobs}.ledger.jsonl")
    first = subprocess.Popen([sys.executable, "-m", "qa2pack", "batch", str(jobs), "--workers", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: ledger.exists(), 120, "the first batch to start")
        second = subprocess.run([sys.executable, "-m", "qa2pack", "batch", str(jobs), "--workers", "1"],
                                capture_output=True, text=True, timeout=120)
    finally:
        first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 2
    assert second.stderr.startswith(f"qa2pack: error: {ledger} is in use by 'qa2pack batch' (process {first.pid} on ")
    assert_each_line_once(jobs, 8)


def test_an_unreachable_scheduler_or_no_dask_is_one_line(delivery: Path, tmp_path: Path, capsys,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    jobs = fixity_jobs(delivery, tmp_path, 1)
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "1s")
    assert main(["batch", str(jobs), "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err.startswith("qa2pack: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the [batch] extra were not installed
    assert main(["batch", str(jobs)]) == 2
    assert capsys.readouterr().err == ("qa2pack: error: qa2pack batch runs on Dask, which is not installed: "
                                       "pip install 'qa2pack[batch]'\n")
    assert not Path(f"{jobs}.ledger.jsonl").exists()
