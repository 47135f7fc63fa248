"""JOBS files, ledgers, the helpers that write JOBS files, and the site settings: no Dask running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from batch_helpers import MOUS, linked_copies
from qa2pack.batch.engine import check_line, jobqueue_cluster, jobqueue_options
from qa2pack.batch.jobs import Job, parse_jobs, plan_batch, read_jobs
from qa2pack.batch.ledger import Ledger, LineResult, last_exit_codes, ledger_path, read_ledger
from qa2pack.batch.task import summary_of
from qa2pack.batch.writers import restore_lines, tarsplit_lines, verify_lines
from qa2pack.cli import main
from qa2pack.core.config import BatchSettings, load_config
from qa2pack.core.errors import ConfigError, InputError, UsageError

# -- JOBS files --------------------------------------------------------------------------------


def test_a_jobs_file_is_command_lines_with_comments() -> None:
    text = ('# fixity of cycle 7\n\nverify /a/x.tar   # the first\n  qa2pack verify "/b/with space.tar"\n'
            "tarsplit /p/2019.1.00001.S --max-size 20GB\n")
    jobs = parse_jobs(text)
    assert [(job.number, job.argv) for job in jobs] == [
        (3, ("verify", "/a/x.tar")),
        (4, ("verify", "/b/with space.tar")),
        (5, ("tarsplit", "/p/2019.1.00001.S", "--max-size", "20GB")),
    ]
    assert jobs[1].command == "verify '/b/with space.tar'"  # as a shell would read it back


def test_every_bad_line_is_named_and_nothing_runs() -> None:
    text = "verify a\nbatch other.jobs\nverify a\n'unclosed\nverify --no-such-option b\n"
    with pytest.raises(InputError) as error:
        parse_jobs(text, "x.jobs", check_line)
    message = str(error.value)
    assert message.startswith("x.jobs: nothing was run: ")
    assert "line 2: 'batch' cannot run inside a batch" in message
    assert "line 3: repeats line 1" in message
    assert "line 4: No closing quotation" in message
    assert "line 5: unrecognized arguments: --no-such-option" in message
    assert "line 1" not in message.replace("repeats line 1", "")


def test_a_line_that_only_prints_help_is_refused() -> None:
    with pytest.raises(UsageError, match="only prints help"):
        check_line(["verify", "--help"])


def test_many_bad_lines_are_counted_not_all_listed() -> None:
    with pytest.raises(InputError, match="line 5: .*; and 3 more$"):
        parse_jobs("".join(f"demo {n}\n" for n in range(8)))


def test_an_empty_or_missing_jobs_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no command lines"):
        parse_jobs("# nothing yet\n\n")
    with pytest.raises(InputError, match="JOBS file does not exist"):
        read_jobs(tmp_path / "none.jobs")
    binary = tmp_path / "binary.jobs"
    binary.write_bytes(b"\xff\xfe\x00verify")
    with pytest.raises(InputError, match="JOBS file is not text"):
        read_jobs(binary)


def test_a_rerun_skips_successes_and_keeps_failures_unless_told() -> None:
    jobs = [Job(1, ("verify", "a")), Job(2, ("verify", "b")), Job(3, ("verify", "c"))]
    ledger = {"verify a": 0, "verify b": 1}
    plan = plan_batch(jobs, ledger)
    assert [j.number for j in plan.run] == [3]
    assert [j.number for j in plan.done_before] == [1]
    assert [j.number for j in plan.failed_before] == [2]
    retried = plan_batch(jobs, ledger, retry_failed=True)
    assert [j.number for j in retried.run] == [2, 3] and not retried.failed_before


# -- the ledger --------------------------------------------------------------------------------


def test_the_ledger_lies_beside_the_jobs_file() -> None:
    assert ledger_path(Path("/x/fixity.jobs")) == Path("/x/fixity.jobs.ledger.jsonl")


def test_a_record_torn_by_a_crash_is_ignored_and_the_next_starts_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jobs.ledger.jsonl"
    first = LineResult(1, "verify a", 1, "FAILED")
    with Ledger(path) as ledger:
        ledger.record(first)
    with open(path, "a") as handle:
        handle.write('{"line": 2, "command": "verify b", "exit_co')  # killed mid-write
    with Ledger(path) as ledger:
        ledger.record(LineResult(1, "verify a", 0, "OK"))
    records = read_ledger(path)
    assert [(r.command, r.exit_code) for r in records] == [("verify a", 1), ("verify a", 0)]
    assert last_exit_codes(records) == {"verify a": 0}  # the latest run of a line counts
    assert all(json.loads(line) for line in path.read_text().splitlines()[2:])


def test_a_run_summary_comes_from_the_commands_own_json() -> None:
    assert summary_of({"summary": "OK: x: 3 files"}, "", 0) == "OK: x: 3 files"
    assert summary_of({"error": "does not exist: y"}, "qa2pack: error: does not exist: y\n", 2) == "does not exist: y"
    assert summary_of({"tars": [{"size": 2000}, {"size": 3000}], "dest": "/d"}, "", 0) == "2 tars (5.0 kB) in /d"
    assert summary_of({"into": "/r"}, "", 0) == "unpacked into /r"
    assert summary_of({}, "qa2pack: error: Traceback-free failure\n", 3) == "qa2pack: error: Traceback-free failure"
    assert summary_of({}, "", 0) == "exit 0"


# -- JOBS files for the usual chores -------------------------------------------------------------


def test_fixity_jobs_cover_every_delivery_and_every_set_of_loose_tars(delivery: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    made = linked_copies(delivery, archive, 2)
    loose = archive / "loose"
    loose.mkdir()
    tars = sorted(delivery.glob("*.tar"))
    for tar in tars:
        (loose / tar.name).symlink_to(tar)
    (loose / "2011.0.00229.S_uid___A002_X1_X2.asdm.sdm.tar").write_bytes(b"")  # raw data: not a delivery
    hidden = archive / ".2011.0.00229.S_X229.partial"  # a delivery being made
    hidden.mkdir()
    (hidden / "md5sums.txt").write_text("")
    lines = verify_lines(archive)
    assert lines == [["verify", str(made[0])], ["verify", str(made[1])], ["verify", *map(str, (loose / t.name for t in tars))]]


def test_tarsplit_jobs_name_every_package_once(copy_package: Path, tmp_path: Path) -> None:
    assert tarsplit_lines(copy_package.parent.parent, ["--max-size", "20GB"]) == [
        ["tarsplit", str(copy_package), "--max-size", "20GB"]]


def test_restore_jobs_take_each_mous_tars_and_its_projects_raw_data(delivery: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    asdm = raw / "2011.0.00229.S_uid___A002_X1_X2.asdm.sdm.tar"
    asdm.write_bytes(b"")
    (raw / "2019.1.00001.S_uid___A002_X9_X9.asdm.sdm.tar").write_bytes(b"")  # another project's
    mous = tmp_path / "mous.txt"
    mous.write_text("# to restore\nuid://A001/X121/X229\n")
    [line] = restore_lines(mous, delivery, tmp_path / "restore", raw)
    tars = [str(t) for t in sorted(delivery.glob("*.tar"))]
    assert line == ["restore-prep", *tars, str(asdm), "--into", str(tmp_path / "restore" / MOUS)]
    mous.write_text("uid://A001/X121/X229\nuid://A001/X1/X404\n")
    with pytest.raises(InputError, match="no delivery tars below .* for uid___A001_X1_X404"):
        restore_lines(mous, delivery, tmp_path / "restore")


def test_batch_jobs_writes_a_new_file_and_never_overwrites_one(delivery: Path, tmp_path: Path, capsys) -> None:
    jobs = tmp_path / "fixity.jobs"
    assert main(["batch-jobs", "verify", str(delivery.parent), "-o", str(jobs)]) == 0
    assert jobs.read_text() == f"# qa2pack batch-jobs verify: 1 line\nverify {delivery}\n"
    assert read_jobs(jobs, check_line)[0].argv == ("verify", str(delivery))
    assert main(["batch-jobs", "verify", str(delivery.parent), "-o", str(jobs)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["batch-jobs", "tarsplit", str(tmp_path / "empty-nothing")]) == 2
    assert "does not exist or is not a folder" in capsys.readouterr().err


# -- a site's cluster --------------------------------------------------------------------------


def test_the_batch_table_of_the_configuration(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[batch]\nqueue = "long"\naccount = "alma"\nworkers = 8\nmemory = "16GB"\n')
    settings = load_config(config).batch
    assert settings == BatchSettings(queue="long", account="alma", workers=8, memory="16GB")
    config.write_text('[batch]\nworkers = "8"\n')
    with pytest.raises(ConfigError, match="batch.workers must be a whole number"):
        load_config(config)
    config.write_text("[batch]\nnodes = 3\n")
    with pytest.raises(ConfigError, match="unknown key batch.nodes"):
        load_config(config)


def test_slurm_and_htcondor_jobs_carry_the_site_settings() -> None:
    settings = BatchSettings(queue="long", account="alma", cores=4, memory="16GB", walltime="12:00:00", disk="50GB")
    assert jobqueue_options("slurm", settings) == {"cores": 4, "processes": 4, "memory": "16GB",
                                                    "scheduler_options": {"dashboard_address": ":0"},
                                                    "walltime": "12:00:00", "queue": "long", "account": "alma"}
    with pytest.raises(UsageError, match="unknown cluster 'pbs'"):
        jobqueue_options("pbs", settings)
    slurm = jobqueue_cluster("slurm", settings)  # dask-jobqueue's own object: its job script is what sbatch gets
    try:
        script = slurm.job_script()
    finally:
        slurm.close()
    for directive in ("#SBATCH -p long", "#SBATCH -A alma", "#SBATCH -n 1", "#SBATCH --cpus-per-task=4",
                      "#SBATCH -t 12:00:00", "--nworkers 4", "--nthreads 1"):
        assert directive in script
    condor = jobqueue_cluster("htcondor", settings)
    try:
        script = condor.job_script()
    finally:
        condor.close()
    assert "RequestDisk = MemoryAndDisk" in script or "RequestDisk" in script
    assert "--nthreads 1" in script


def test_the_progress_bar_counts_and_prints_each_failure(capsys) -> None:
    from qa2pack.batch.display import RichBatchDisplay, make_display
    from qa2pack.batch.engine import SilentDisplay

    assert isinstance(make_display(json_mode=True), SilentDisplay)
    display = RichBatchDisplay()
    display.start(3)
    display.running(2)
    display.finished(LineResult(1, "verify a", 0, "OK"))
    display.finished(LineResult(2, "verify b", 1, "FAILED: b: 1 corrupted"))
    assert "1 failed, 2 running" in display._counts()
    display.stop()
    assert "line 2 failed (exit 1): FAILED: b: 1 corrupted" in capsys.readouterr().err
