"""One function per command: turn the parsed arguments into a library call, then print its result.

Each returns its exit code; a refusal is raised as a :class:`~qa2pack.core.errors.Qa2packError`
and made into one line by :func:`~qa2pack.cli.app.main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import EXIT_FAILED_MIDRUN, EXIT_INTERRUPTED, EXIT_OK, EXIT_VERIFY_FAILED, InputError, UsageError
from ..core.naming import normalize_uid
from ..run.progress import counted, make_progress
from ..scan.ahead import reading_ahead, reads_ahead

if TYPE_CHECKING:  # loaded by the commands that need them: tarsplit and verify start hashing sooner without
    from ..core.options import PackageOptions
    from ..delivery.layout import OusUids
    from ..delivery.uids import DeliveryNaming

from .render import (
    command_of,
    emit_json,
    out,
    print_clear_plan,
    print_download,
    print_links,
    print_outputs,
    print_restore,
    print_start,
    print_tars,
    print_verify,
    say,
)

# -- arguments into typed options -------------------------------------------------------------


def ous_uids_from_args(args: argparse.Namespace) -> OusUids | None:
    """Parse ``--ous-uids SG,GROUP,MEMBER`` or read them from ``--ppr``."""
    from ..delivery.layout import OusUids

    if getattr(args, "ous_uids", None):
        parts = [p for p in args.ous_uids.split(",") if p.strip()]
        if len(parts) != 3:
            raise UsageError("--ous-uids needs three uids: SCIENCE_GOAL,GROUP,MEMBER")
        return OusUids(*(normalize_uid(p) for p in parts))
    if getattr(args, "ppr", None):
        from ..pipeline.ppr import read_ppr

        request = read_ppr(args.ppr)
        if not (request.sous and request.gous):
            raise UsageError(f"{args.ppr} names no SOUS/GOUS (its RelativePath); give them with --ous-uids")
        return OusUids(request.sous, request.gous, request.mous)
    return None


def options_from_args(args: argparse.Namespace) -> PackageOptions:
    """Turn parsed CLI arguments into typed options (validating every value)."""
    from ..core.config import load_config
    from ..core.model import Append, Mode, Style
    from ..core.options import PackageOptions

    return PackageOptions(
        mode=Mode.parse(getattr(args, "mode", "fake")),
        style=Style.parse(args.style),
        append=Append.parse(args.append),
        readme=args.readme,
        gzip_caltables=args.gzip_caltables,
        pi_script=args.pi_script,
        noms=args.noms,
        include_asdm=args.include_asdm,
        follow_links=args.follow_links,
        checksums=args.checksums,
        config=load_config(args.config),
        ous_uids=ous_uids_from_args(args),
    )


def naming_from_args(args: argparse.Namespace) -> DeliveryNaming:
    """Turn ``--mous-uid``, ``--uid-map``, ``--placeholder-names`` and ``--any-project-name`` into naming rules."""
    from ..delivery.uids import DeliveryNaming, read_uid_map

    return DeliveryNaming(
        mous_uid=normalize_uid(args.mous_uid) if args.mous_uid else None,
        uid_map=read_uid_map(args.uid_map) if args.uid_map else (),
        placeholder_names=args.placeholder_names,
        any_project_name=args.any_project_name,
    )


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    return make_progress(args.json, args.quiet)


# -- packaging ------------------------------------------------------------------------------


def cmd_package(args: argparse.Namespace) -> int:
    """Package a reduction folder."""
    with reading_ahead(args.origpath if reads_ahead(str(args.mode)) else None):
        return _package(args)


def _package(args: argparse.Namespace) -> int:
    from ..api import package
    from ..run.report import render_skipped

    report = package(args.origpath, args.packpath, options_from_args(args), _progress(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
        return EXIT_OK
    if args.verbose:
        out(args, "\n".join(render_skipped(report.skipped)))
    print_outputs(args, report.outputs)
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    """Show the plan without writing anything."""
    with reading_ahead(args.origpath):
        return _inspect(args)


def _inspect(args: argparse.Namespace) -> int:
    from ..api import plan_package
    from ..core.model import Append
    from ..run.report import plan_to_json, render_plan
    from ..scan.probe import read_package_state

    options = options_from_args(args)
    state = None
    if args.packpath is not None:
        state = read_package_state(Path(args.packpath), with_listing=options.append is Append.PRODUCT)
    plan = plan_package(args.origpath, options, args.packpath, state)
    if args.json:
        emit_json(command_of(args), plan_to_json(plan))
    else:
        out(args, render_plan(plan))
    return EXIT_OK


def cmd_stage(args: argparse.Namespace) -> int:
    """Stage an ALMA Science Pipeline run as a delivery-style package."""
    from ..api import stage
    from ..core.model import Mode

    report = stage(args.pipeline_root, args.staged_root, Mode.parse(args.mode), args.pi_script, args.pipe_readme,
                   ous_uids_from_args(args), args.real_uids, _progress(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_outputs(args, report.outputs)
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    """Print the effective placement configuration as TOML (or JSON)."""
    from ..core.config import load_config

    config = load_config(args.config)
    if args.json:
        emit_json(command_of(args), config.to_json())
    else:
        sys.stdout.write(config.to_toml())
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the project229 demo tree with real CASA tables and package it."""
    from ..analyst.demo import run_demo, run_pipeline_demo, run_real_casa_demo
    from ..core.model import Mode

    if args.pi_script and not args.casa:
        raise UsageError("--pi-script goes with --casa (the other demos package without running it)")
    if args.casa:
        result = run_real_casa_demo(Path(args.dir), args.pi_script, lambda text: say(args, text))
    else:
        build = run_pipeline_demo if args.pipeline else run_demo
        result = build(Path(args.dir), Mode.parse(args.mode), _progress(args))
    if args.json:
        emit_json(command_of(args), result)
    else:
        out(args, result["text"])
    return EXIT_OK if result.get("ok", True) else EXIT_VERIFY_FAILED


# -- delivery -------------------------------------------------------------------------------


def cmd_tarsplit(args: argparse.Namespace) -> int:
    """Split a package into delivery tar files with md5 sidecars."""
    from ..delivery.tarsplit import parse_size, refuse_fake_package, tarsplit

    packpath = Path(args.packpath)
    refuse_fake_package(packpath, args.fake_ok)
    output = Path(args.output) if args.output else packpath.absolute().parent
    result = tarsplit(packpath, output, parse_size(args.max_size), args.member, _progress(args),
                      naming_from_args(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), result.to_json())
    else:
        print_tars(args, [(str(path), md5, size) for path, md5, size in result.tars])
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a package folder, or delivery tars, like the archive's ingest."""
    from ..core.config import load_config
    from ..delivery.verify import is_delivery, verify_delivery, verify_package, verify_tars

    paths = [Path(p) for p in args.paths]
    config = load_config(args.config)
    progress = _progress(args)
    missing = [str(p) for p in paths if not os.path.lexists(p)]
    if missing:
        raise InputError(f"does not exist: {', '.join(missing)}")
    if len(paths) == 1 and is_delivery(paths[0]):
        report = verify_delivery(paths[0], args.manifest, config, args.expect_uids, args.fake_ok, progress,
                                 wait=args.wait)
    elif len(paths) == 1 and paths[0].is_dir():
        report = verify_package(paths[0], args.manifest, config, not args.no_checksums, args.expect_uids,
                                args.fake_ok, progress, wait=args.wait)
    elif all(p.suffix == ".tar" for p in paths):
        report = verify_tars(paths, args.manifest, config, args.expect_uids, args.fake_ok, progress, wait=args.wait)
    else:
        raise UsageError("give one package folder, or one or more .tar files")
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_verify(args, report)
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED


def cmd_deliver(args: argparse.Namespace) -> int:
    """Tarsplit + verify + md5sums.txt into DEST, all or nothing."""
    from ..delivery.deliver import deliver
    from ..delivery.tarsplit import parse_size

    report = deliver(Path(args.packpath), Path(args.dest), parse_size(args.max_size), args.fake_ok, _progress(args),
                     naming_from_args(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_tars(args, report.tars)
        say(args, f"delivered {len(report.tars)} verified tar(s) and md5sums.txt into {report.dest}")
    return EXIT_OK


# -- restore and the analyst's workspace -----------------------------------------------------


def cmd_restore_prep(args: argparse.Namespace) -> int:
    """Unpack delivered data for scriptForPI.py and check it first."""
    from ..restore.prepare import restore_prep

    report = restore_prep([Path(p) for p in args.inputs], Path(args.into), args.spacesaving, args.write_ppr,
                          _progress(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_restore(args, report)
    return EXIT_OK


def cmd_workspace_download(args: argparse.Namespace) -> int:
    """Download an SB's raw data from the archive's page, resuming, and check every md5."""
    from ..analyst.download import download

    report = download(args.url, Path(args.sb_dir), _progress(args), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_download(args, report)
    return EXIT_OK if report.ok else EXIT_FAILED_MIDRUN


def cmd_workspace_start(args: argparse.Namespace) -> int:
    """Create an SB's QA2 working tree (or list the SBs to choose from)."""
    from ..analyst.workspace import start

    report = start(Path(args.sb_dir) if args.sb_dir else None, Path(args.asdm_dir) if args.asdm_dir else None,
                   args.project, args.move, args.pi_script, wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_start(args, report)
    return EXIT_OK


def cmd_workspace_fluxscale(args: argparse.Namespace) -> int:
    """Print the calibrators' flux densities from every EB's fluxscale file."""
    from ..analyst.fluxscale import fluxscale

    files = fluxscale(Path(args.sb_dir))
    if args.json:
        emit_json(command_of(args), {"files": [f.to_json() for f in files]})
    else:
        for found in files:
            out(args, f"{found.path}:")
            for line in found.lines or ["(no flux density in it)"]:
                out(args, f"  {line}")
    return EXIT_OK


def cmd_workspace_ticket(args: argparse.Namespace) -> int:
    """Package an SB in ticket mode and gather JIRA/."""
    from ..analyst.ticket import ticket

    report = ticket(Path(args.sb_dir), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        say(args, f"attach to the QA2 ticket (in {report.folder}):")
        for path in report.files:
            out(args, f"  {path.name}")
    return EXIT_OK


def cmd_workspace_publish(args: argparse.Namespace) -> int:
    """Link a delivery into the publishing folder and say what to tell the data reduction manager."""
    from ..analyst.publish import publish

    report = publish(Path(args.delivery), Path(args.to) if args.to else None, wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        how = f"{len(report.files) - len(report.copied)} linked, {len(report.copied)} copied"
        say(args, f"published {len(report.files)} files into {report.folder} ({how})")
        out(args, report.message())
    return EXIT_OK


def cmd_workspace_clear(args: argparse.Namespace) -> int:
    """Clear an EB folder back to its ASDM and calibration script."""
    from ..analyst.workspace import apply_clear, plan_clear

    plan = plan_clear(Path(args.eb_dir))
    print_clear_plan(args, plan)
    if plan.remove and not args.yes:
        if args.json or not sys.stdin.isatty():
            raise UsageError("clear deletes files: confirm on a terminal, or pass --yes")
        if input("Continue? (y/[N]) ").strip().lower() not in ("y", "yes"):
            out(args, "Nothing was removed.")
            return EXIT_OK
    if plan.remove:
        apply_clear(plan, wait=args.wait)
        say(args, "Deleting files ... done")
    if args.json:
        emit_json(command_of(args), plan.to_json(removed=True))
    return EXIT_OK


def cmd_workspace_fluxequal(args: argparse.Namespace) -> int:
    """Link the EBs' calibrated MSs and fluxscale files into calibrated/."""
    from ..analyst.workspace import fluxequal_start

    report = fluxequal_start(Path(args.sb_dir), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        print_links(args, report)
    return EXIT_OK


# -- many runs at once ----------------------------------------------------------------------


def cmd_batch(args: argparse.Namespace) -> int:
    """Run a JOBS file's lines on Dask."""
    import signal

    from ..batch.display import make_display
    from ..batch.engine import Where, run_batch
    from ..core.config import load_config

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")
    where = Where(args.scheduler, args.cluster, args.workers, load_config(args.config).batch)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped by a scheduler: as by Ctrl-C
    report = run_batch(args.jobs, where, args.retry_failed, make_display(args.json, args.quiet), wait=args.wait)
    if args.json:
        emit_json(command_of(args), report.to_json())
    else:
        for failed in report.failed:
            out(args, f"line {failed.line} failed (exit {failed.exit_code}): {failed.command}: {failed.summary}")
        (say if report.ok else out)(args, report.summary())
    if report.interrupted:
        sys.stderr.write("qa2pack: batch stopped; run the same command again to go on where it stopped\n")
        return EXIT_INTERRUPTED
    return EXIT_OK if report.ok else EXIT_VERIFY_FAILED


def cmd_batch_jobs(args: argparse.Namespace) -> int:
    """Write the command lines of a common archive chore."""
    from ..batch.writers import jobs_text, restore_lines, tarsplit_lines, verify_lines

    if args.action == "verify":
        lines = verify_lines(args.folder)
    elif args.action == "tarsplit":
        lines = tarsplit_lines(args.folder, [word for word in args.options if word != "--"])
    else:
        lines = restore_lines(args.mous_list, args.products, args.into, args.raw)
    if not lines:
        where = f"{args.mous_list} names no MOUS" if args.action == "restore-prep" else (
            f"no {'delivery' if args.action == 'verify' else 'package'} below {args.folder}")
        raise InputError(f"nothing to do: {where}")
    text = jobs_text(lines, f"qa2pack batch-jobs {args.action}: {counted(len(lines), 'line')}")
    if args.output is not None:
        from ..formats.atomic import write_new_text

        write_new_text(args.output, text)
    if args.json:
        emit_json(command_of(args), {"lines": lines, "output": str(args.output) if args.output else None})
    elif args.output is None:
        sys.stdout.write(text)
    else:
        say(args, f"wrote {counted(len(lines), 'line')} into {args.output}; run them with: qa2pack batch {args.output}")
    return EXIT_OK
