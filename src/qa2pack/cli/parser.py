"""The argument parser of every command, with two or three worked examples at the end of each ``--help``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, NoReturn

from .._version import __version__
from ..core.errors import UsageError
from . import commands


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), raised as UsageError."""

    def error(self, message: str) -> NoReturn:
        command = self.prog[len("qa2pack"):].strip() if self.prog.startswith("qa2pack") else self.prog
        where = f" {command}" if command else ""
        raise UsageError(f"{message} (see qa2pack{where} --help)")


EXAMPLES = {
    "package": """\
  qa2pack package SB/ 2011.0.00229.S --readme README.header.txt          # fake: look first
  qa2pack package SB/ 2011.0.00229.S --readme README.header.txt --mode hard
  qa2pack package SB2/ 2011.0.00229.S --append member --mode hard        # a second member""",
    "inspect": """\
  qa2pack inspect SB/                       # the plan as a tree, what is left out, the warnings
  qa2pack inspect SB/ --style cycle4-nopipe
  qa2pack inspect SB/ --json > plan.json""",
    "stage": """\
  qa2pack stage pipeline-run/ 2019.1.01234.S --mode hard --pi-script scriptForPI.py
  qa2pack stage pipeline-run/ 2019.1.01234.S --real-uids     # levels named by the run's uids""",
    "config": """\
  qa2pack config > rules.toml               # edit, then: qa2pack package ... --config rules.toml
  qa2pack config --config rules.toml --json""",
    "demo": """\
  qa2pack demo                              # builds ./qa2pack-demo and packages it (fake mode)
  qa2pack demo /tmp/pipeline-demo --pipeline           # stage and package a pipeline run
  qa2pack demo /tmp/casa-demo --casa --pi-script scriptForPI.py   # real CASA, restored by scriptForPI.py""",
    "tarsplit": """\
  qa2pack tarsplit 2019.1.01234.S                       # uids from the folders or the staged PPR
  qa2pack tarsplit 2011.0.00229.S --mous-uid uid://A001/X1284/X1ef2 --max-size 20GB
  qa2pack tarsplit 2011.0.00229.S --uid-map uids.txt --output /delivery/tmp""",
    "verify": """\
  qa2pack verify 2011.0.00229.S             # against its manifest, and the archive's rules
  qa2pack verify /delivery/2011.0.00229.S_X1ef2       # a folder made by deliver
  qa2pack verify *.tar --manifest 2011.0.00229.S.manifest.tsv -v""",
    "deliver": """\
  qa2pack deliver 2019.1.01234.S /delivery/2019.1.01234.S
  qa2pack deliver 2011.0.00229.S /delivery/229 --mous-uid uid://A001/X1284/X1ef2 --max-size 20GB""",
    "restore-prep": """\
  qa2pack restore-prep 2019.1.01234.S_uid___A001_X1_X2_001_of_001.tar *.asdm.sdm.tar --into restore/
  qa2pack restore-prep delivered/ --into restore/ --spacesaving 2 --write-ppr""",
    "batch": """\
  qa2pack batch-jobs verify /archive/deliveries -o fixity.jobs && qa2pack batch fixity.jobs
  qa2pack batch fixity.jobs --scheduler tcp://scheduler.example.org:8786
  qa2pack batch fixity.jobs --cluster slurm --config site.toml --retry-failed""",
    "batch-jobs verify": """\
  qa2pack batch-jobs verify /archive/deliveries -o fixity.jobs""",
    "batch-jobs tarsplit": """\
  qa2pack batch-jobs tarsplit /qa2/packages -o split.jobs -- --max-size 20GB""",
    "batch-jobs restore-prep": """\
  qa2pack batch-jobs restore-prep mous.txt --products /archive/deliveries --raw /archive/raw --into /restore""",
    "workspace download": """\
  qa2pack workspace download https://almascience.eso.org/arcdistribution/qa2-for-nodes/2a59... B6_IRAS12345""",
    "workspace start": """\
  qa2pack workspace start                   # in the project folder: lists its SBs, or starts the only one
  qa2pack workspace start 2013.1.12345.S/B6_IRAS12345 --asdm-dir /archive/B6_IRAS12345
  qa2pack workspace start B6_IRAS12345 --pi-script ~/qa2/scriptForPI.py""",
    "workspace fluxscale": """\
  qa2pack workspace fluxscale B6_IRAS12345  # every EB's calibrator flux densities, for the checklists
  qa2pack workspace fluxscale .             # in one EB folder""",
    "workspace clear": """\
  qa2pack workspace clear SB_folder/X8c     # lists what goes, then asks
  qa2pack workspace clear SB_folder/X8c --yes""",
    "workspace fluxequal-start": """\
  qa2pack workspace fluxequal-start SB_folder""",
    "workspace ticket": """\
  qa2pack workspace ticket B6_IRAS12345     # packaging/ticket/<project>, and JIRA/ with what to attach""",
    "workspace publish": """\
  qa2pack workspace publish /delivery/2013.1.12345.S_X66d   # into publish_dir of the configuration
  qa2pack workspace publish /delivery/2013.1.12345.S_X66d --to ~/public_html/earlyscience""",
}


def _add(commands_: argparse._SubParsersAction[_Parser], name: str, help_: str, description: str,
         example_key: str | None = None) -> argparse.ArgumentParser:
    return commands_.add_parser(name, help=help_, description=description,
                                epilog="examples:\n" + EXAMPLES[example_key or name],
                                formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="wait for another qa2pack run that holds the same folder, instead of stopping")


def _add_output(parser: argparse.ArgumentParser, verbose: str | None = None) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout (no progress)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on the terminal")
    if verbose:
        parser.add_argument("-v", "--verbose", action="store_true", help=verbose)


def _add_packaging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", default="fake", metavar="MODE", help="fake (default), copy, hard, move, ticket or manimgonly")
    parser.add_argument("--style", default="", metavar="STYLE",
                        help="'' (default), cycle0, cycle1, cycleN-nopipe, cycle2-pipe1, cycleN-pipe ...")
    parser.add_argument("--append", default="", metavar="APPEND",
                        help="'' (replace a package made by qa2pack), group, member or product")
    parser.add_argument("--readme", type=Path, metavar="FILE", help="header text of every member README")
    parser.add_argument("--gzip-caltables", action="store_true",
                        help="deliver each <EB>.calibration folder as <EB>.calibration.tgz")
    parser.add_argument("--pi-script", type=Path, metavar="FILE", help="copied into script/ as scriptForPI.py")
    parser.add_argument("--noms", action="store_true", help="do not package MSs (raw/ and calibrated/)")
    parser.add_argument("--include-asdm", action="store_true", help="package ASDMs into raw/")
    parser.add_argument("--follow-links", action="store_true",
                        help="follow symbolic links to folders inside origpath")
    parser.add_argument("--checksums", action="store_true",
                        help="md5 every file in hard and move modes too (reads all the data)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML file overriding placement rules")
    _add_uids(parser)


def _add_naming(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mous-uid", metavar="UID",
                        help="the MOUS uid of the package's only member (uid://A001/X1284/X1ef2): the tars and the "
                             "ticket are named after it while the folders keep their placeholders")
    parser.add_argument("--uid-map", type=Path, metavar="FILE",
                        help="a file of 'FOLDER UID' lines naming the uid of each member (and group) folder")
    parser.add_argument("--placeholder-names", action="store_true",
                        help="name tars after placeholder folders when no uid is known (the archive cannot ingest them)")
    parser.add_argument("--any-project-name", action="store_true",
                        help="split a package whose folder is not named by a project code")


def _add_uids(parser: argparse.ArgumentParser) -> None:
    uids = parser.add_mutually_exclusive_group()
    uids.add_argument("--ous-uids", metavar="SG,GROUP,MEMBER",
                      help="name the levels science_goal.uid___.../group.uid___.../member.uid___... "
                           "(uids as uid://A001/X1/X2 or uid___A001_X1_X2)")
    uids.add_argument("--ppr", type=Path, metavar="F", help="take the three OUS uids from this PPR")


def _add_batch(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "batch", "run many qa2pack command lines on Dask, with a ledger to resume from",
               "Run every line of JOBS (one qa2pack command line a line, '#' comments; relative paths are relative "
               "to JOBS's folder) as one Dask task: on a local cluster of one process per core by default, on a "
               "running scheduler, or on Slurm or HTCondor jobs. Each finished line goes into JOBS.ledger.jsonl at "
               "once; a rerun skips the lines done. Exit 0 only when every line succeeded. Needs the [batch] extra.")
    sub.add_argument("jobs", type=Path, metavar="JOBS", help="the file of command lines")
    where = sub.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler (tcp://host:8786)")
    where.add_argument("--cluster", choices=("slurm", "htcondor"),
                       help="start workers as batch jobs (settings from the [batch] table of --config)")
    sub.add_argument("--workers", type=int, metavar="N",
                     help="local worker processes (default: one per core), or batch jobs with --cluster")
    sub.add_argument("--retry-failed", action="store_true", help="run again the lines whose last run failed")
    sub.add_argument("--config", type=Path, metavar="FILE", help="TOML file with a [batch] table")
    _add_output(sub)
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_batch)


def _add_batch_jobs(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = commands_.add_parser("batch-jobs", help="write a JOBS file for qa2pack batch",
                               description="Write the command lines of a common archive chore, for qa2pack batch.",
                               epilog="examples:\n" + EXAMPLES["batch-jobs verify"] + "\n"
                                      + EXAMPLES["batch-jobs tarsplit"],
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = sub.add_subparsers(dest="action", metavar="KIND", parser_class=_Parser)
    kinds.required = True
    kind = _add(kinds, "verify", "verify every delivery below a folder (fixity)",
                "One 'verify' line per folder made by deliver, and per set of loose delivery tars, below FOLDER.",
                "batch-jobs verify")
    kind.add_argument("folder", type=Path, help="where the deliveries are")
    _add_jobs_output(kind)
    kind = _add(kinds, "tarsplit", "split every package below a folder",
                "One 'tarsplit' line per package below FOLDER (a folder named by a project code); words after '--' "
                "are added to every line.", "batch-jobs tarsplit")
    kind.add_argument("folder", type=Path, help="where the packages are")
    kind.add_argument("options", nargs=argparse.REMAINDER, help="tarsplit options for every line, after --")
    _add_jobs_output(kind)
    kind = _add(kinds, "restore-prep", "prepare the restore of each MOUS in a list",
                "One 'restore-prep' line per MOUS uid in MOUS_LIST (one a line), from its delivery tars below "
                "--products (and its project's raw ASDM tars below --raw), into INTO/<MOUS uid>.",
                "batch-jobs restore-prep")
    kind.add_argument("mous_list", type=Path, metavar="MOUS_LIST", help="a file of MOUS uids, one a line")
    kind.add_argument("--products", type=Path, required=True, metavar="DIR", help="where the delivery tars are")
    kind.add_argument("--raw", type=Path, metavar="DIR", help="where the raw ASDM tars are")
    kind.add_argument("--into", type=Path, required=True, metavar="DIR", help="one restore folder per MOUS in here")
    _add_jobs_output(kind)
    sub.set_defaults(run=commands.cmd_batch_jobs)


def _add_jobs_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", type=Path, metavar="JOBS", help="write here (a new file) instead of stdout")
    _add_output(parser)


def _add_package(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "package", "package a reduction folder (ORIGPATH) into PACKPATH",
               "Package ORIGPATH into PACKPATH (named after the project code). The default mode, fake, writes "
               "empty files: look, then rerun with --mode hard.")
    sub.add_argument("origpath", help="the reduction folder (one SB, or a parent of several)")
    sub.add_argument("packpath", help="the package folder, named by the project code (e.g. 2011.0.00229.S)")
    _add_packaging(sub)
    _add_output(sub, verbose="also list every path not packaged, with the reason")
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_package)


def _add_inspect(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "inspect", "show what package would do, writing nothing",
               "Show the plan as a tree: every file and where it goes and why, what is not packaged, and the "
               "warnings. Writes nothing.")
    sub.add_argument("origpath", help="the reduction folder")
    sub.add_argument("packpath", nargs="?", help="optional: the package the plan is for (for --append)")
    _add_packaging(sub)
    _add_output(sub)
    sub.set_defaults(run=commands.cmd_inspect)


def _add_stage(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "stage", "stage an ALMA Science Pipeline run as a delivery-style package",
               "Map what the pipeline's export step wrote into products/ into STAGED_ROOT/sg_ouss_id/group_ouss_id/"
               "member_ouss_id/{calibration,qa,script,product,log,README}. PIPELINE_ROOT is the run, its MOUS "
               "folder or its products/ folder.")
    sub.add_argument("pipeline_root", help="the pipeline run folder (or its MOUS folder, or products/)")
    sub.add_argument("staged_root", help="the staged package folder (named by the project code)")
    sub.add_argument("--mode", default="fake", help="hard, copy or fake (default fake)")
    sub.add_argument("--pi-script", type=Path, metavar="F", help="copied into script/ as scriptForPI.py")
    sub.add_argument("--pipe-readme", type=Path, metavar="F", help="the pipeline README header")
    sub.add_argument("--real-uids", action="store_true", help="name the levels by the run's SOUS/GOUS/MOUS uids")
    _add_uids(sub)
    _add_output(sub)
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_stage)


def _add_config(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "config", "print the placement configuration as TOML",
               "Print the default placement rules (or those of --config FILE) as TOML; save, edit and pass back "
               "with --config.")
    sub.add_argument("--config", type=Path, metavar="FILE", help="a TOML file to merge over the defaults")
    sub.add_argument("--json", action="store_true", help="print the rules as one JSON document instead")
    sub.set_defaults(run=commands.cmd_config, quiet=False)


def _add_demo(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "demo", "build a realistic reduction tree and package it",
               "Build the project229 example of the QA2 wiki (real CASA tables, ASDMs, QA2 plots, logs, scripts, a "
               "FITS image) in DIR and package it (fake mode by default).")
    sub.add_argument("dir", nargs="?", default="qa2pack-demo", help="where to build it (default ./qa2pack-demo)")
    sub.add_argument("--mode", default="fake", help="packaging mode for the demo (default fake)")
    kind = sub.add_mutually_exclusive_group()
    kind.add_argument("--pipeline", action="store_true",
                      help="a pipeline run instead (current product names, a multi-EB session): staged, then packaged")
    kind.add_argument("--casa", action="store_true",
                      help="a real reduction with CASA's pip packages (extra [casa]): simulate, calibrate, image, "
                           "package, deliver, restore, run scriptForPI.py, compare")
    sub.add_argument("--pi-script", type=Path, metavar="F",
                     help="with --casa: the scriptForPI.py to deliver and run on the restored data")
    _add_output(sub)
    sub.set_defaults(run=commands.cmd_demo)


def _add_tarsplit(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "tarsplit", "split a package into delivery tar files",
               "Write <Project>_<MOUS>_<mmm>_of_<nnn>.tar per member (and <Project>_<GOUS>_... for group-level "
               "products), no part over --max-size, no file split, each with a <tar>.md5sum sidecar.")
    sub.add_argument("packpath", help="the package folder (named by the project code)")
    sub.add_argument("--max-size", default="50GB", help="largest tar (default 50GB; 500MB, 2GiB, bytes ...)")
    sub.add_argument("--output", metavar="DIR", help="where the tars go (default: beside the package)")
    sub.add_argument("--member", action="append", default=[], metavar="NAME",
                     help="only this member (folder name or uid); repeatable")
    sub.add_argument("--fake-ok", action="store_true", help="split a fake/ticket package anyway")
    _add_naming(sub)
    _add_output(sub)
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_tarsplit)


def _add_verify(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "verify", "check a package or delivery tars like the archive's ingest",
               "Check a package folder (or delivery tars, or a folder made by deliver) against its manifest and "
               "the archive's ingest rules. Exit 0 only when everything holds; 1 otherwise.")
    sub.add_argument("paths", nargs="+", metavar="PACKPATH|TAR", help="a package folder, or .tar files")
    sub.add_argument("--manifest", type=Path, metavar="F",
                     help="manifest to compare with (default: the one beside the package)")
    sub.add_argument("--no-checksums", action="store_true", help="compare sizes only (do not read the data)")
    sub.add_argument("--expect-uids", action="store_true", help="require real uids in every level folder name")
    sub.add_argument("--fake-ok", action="store_true", help="accept a fake/ticket package (names only)")
    sub.add_argument("--config", type=Path, metavar="FILE", help="TOML placement rules (folder names)")
    _add_output(sub, verbose="list every path with a problem (default: one line per member and kind)")
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_verify)


def _add_deliver(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "deliver", "tarsplit, verify and md5sums.txt into DEST, all or nothing",
               "Split PACKPATH into tars in a hidden folder beside DEST, verify them, write md5sums.txt and rename "
               "the folder to DEST only then.")
    sub.add_argument("packpath", help="the package folder")
    sub.add_argument("dest", help="the delivery folder to create (must not exist)")
    sub.add_argument("--max-size", default="50GB", help="largest tar (default 50GB)")
    sub.add_argument("--fake-ok", action="store_true", help="deliver a fake/ticket package anyway (for tests)")
    _add_naming(sub)
    _add_output(sub)
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_deliver)


def _add_restore_prep(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = _add(commands_, "restore-prep", "unpack delivered data for scriptForPI.py, checked first",
               "Unpack product tars (*_001_of_001.tar, *_auxiliary.tar) and raw ASDM tars "
               "(<Project>_<EB uid>.asdm.sdm.tar) or folders safely into DIR, put raw/ beside script/, check the "
               "ASDMs the scripts name, that calibrated/ does not exist and the free space, and print the command "
               "to run next.")
    sub.add_argument("inputs", nargs="+", metavar="TAR_OR_DIR", help="product and raw tars, or folders")
    sub.add_argument("--into", required=True, metavar="DIR", help="where to unpack (created if needed)")
    sub.add_argument("--spacesaving", type=int, default=1, metavar="N",
                     help="the SPACESAVING scriptForPI.py will run with (default 1; 0-3)")
    sub.add_argument("--write-ppr", action="store_true", help="also write a restore PPR (hifa_restoredata)")
    _add_output(sub)
    _add_wait(sub)
    sub.set_defaults(run=commands.cmd_restore_prep)


def _add_workspace(commands_: argparse._SubParsersAction[_Parser]) -> None:
    sub = commands_.add_parser("workspace", help="QA2 workspace helpers: start an SB, clear an EB, flux equalisation",
                               description="Helpers around the packager for the analyst's QA2 working tree.",
                               epilog="examples:\n  qa2pack workspace start\n  qa2pack workspace clear SB/X66d\n"
                                      "  qa2pack workspace ticket SB",
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = sub.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    act = _add(actions, "download", "download an SB's ASDMs and md5sums.txt from the archive's page, checked",
               "Fetch the ASDM tars and md5sums.txt the page at URL links to into SB_DIR (default: the current "
               "folder), resuming dropped transfers; compare every md5 and unpack the good tars.",
               "workspace download")
    act.add_argument("url", help="the address of the page where the raw data are offered")
    act.add_argument("sb_dir", nargs="?", default=".", help="where the files go (default: the current folder)")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_download)
    act = _add(actions, "start", "create an SB's working tree from its ASDMs",
               "Create SB_DIR/<SB>/ with one EB folder per ASDM (named like X66d, holding a link to the ASDM, or the "
               "ASDM with --move), calibrated/, the SB and EB checklist templates, README.header.txt, "
               "scriptForPI.py (from --pi-script or the configuration) and packaging/{ticket,hard}/"
               "run_packaging.py. Existing files are never overwritten. Without SB_DIR: the SB folders of the "
               "current folder are listed, or the only one is started.", "workspace start")
    act.add_argument("sb_dir", nargs="?", help="the SB folder (its name is the SB name); default: look here")
    act.add_argument("--asdm-dir", metavar="D", help="where the ASDMs are (default: SB_DIR)")
    act.add_argument("--project", metavar="CODE", help="project code (default: the parent folder name, if it is one)")
    act.add_argument("--move", action="store_true", help="move the ASDMs into the EB folders instead of linking")
    act.add_argument("--pi-script", type=Path, metavar="F",
                     help="the scriptForPI.py to put beside README.header.txt (default: [workspace] pi_script)")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_start)
    act = _add(actions, "fluxscale", "print the calibrators' flux densities from every EB's *.fluxscale",
               "Print the 'Flux density for ...' and 'Fitted spectrum for ...' lines of every *.fluxscale file CASA "
               "wrote in SB_DIR and its EB folders (what the EB checklist asks for).", "workspace fluxscale")
    act.add_argument("sb_dir", nargs="?", default=".", help="the SB folder or one EB folder (default: here)")
    _add_output(act)
    act.set_defaults(run=commands.cmd_workspace_fluxscale)
    act = _add(actions, "clear", "clear an EB folder (or calibrated/) back to what it started from",
               "List what goes, ask, then remove everything in an EB folder except the ASDM (or the link to it) and "
               "*.scriptForCalibration.py; in the SB's calibrated/ folder everything except *fluxscale, *split.cal, "
               "scriptForFluxCalibration.py and scriptForImaging.py. Refuses any other folder.", "workspace clear")
    act.add_argument("eb_dir", metavar="FOLDER", help="the EB folder, or the SB's calibrated/ folder")
    act.add_argument("--yes", action="store_true", help="do not ask")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_clear)
    act = _add(actions, "fluxequal-start", "link the EBs' *.ms.split.cal and *.fluxscale into calibrated/",
               "Make relative links in calibrated/ to every EB's *.ms.split.cal and *.fluxscale, for flux "
               "equalisation. Existing names are left alone.", "workspace fluxequal-start")
    act.add_argument("sb_dir", help="the SB folder (or its reduction folder)")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_fluxequal)
    act = _add(actions, "ticket", "package an SB in ticket mode and gather JIRA/: the zip and the checklists",
               "Package SB_DIR's reduction in ticket mode into SB_DIR/packaging/ticket/<project> (as its "
               "run_packaging.py does) and gather in packaging/ticket/JIRA/ everything to attach to the QA2 ticket: "
               "<project>.<SB>.ticket.zip and the SB's checklists.", "workspace ticket")
    act.add_argument("sb_dir", nargs="?", default=".", help="the started SB folder (default: here)")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_ticket)
    act = _add(actions, "publish", "make a delivery available to the data reduction manager",
               "Link (or copy, across file systems) a delivery's tars, md5 files and ticket into DIR/<delivery>/ "
               "(DIR from --to or publish_dir of the configuration), whole or not at all, and print what to tell "
               "the data reduction manager.", "workspace publish")
    act.add_argument("delivery", help="a folder made by 'qa2pack deliver'")
    act.add_argument("--to", metavar="DIR", help="the publishing folder (default: [workspace] publish_dir)")
    _add_output(act)
    _add_wait(act)
    act.set_defaults(run=commands.cmd_workspace_publish)


COMMANDS: dict[str, Callable[[argparse._SubParsersAction[_Parser]], None]] = {
    "package": _add_package,
    "inspect": _add_inspect,
    "stage": _add_stage,
    "config": _add_config,
    "demo": _add_demo,
    "tarsplit": _add_tarsplit,
    "verify": _add_verify,
    "deliver": _add_deliver,
    "restore-prep": _add_restore_prep,
    "batch": _add_batch,
    "batch-jobs": _add_batch_jobs,
    "workspace": _add_workspace,
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """Return the parser of every command, or only of the command that ``argv`` starts with (less to build)."""
    parser = _Parser(
        prog="qa2pack",
        description="Package an ALMA QA2 reduction into the standard ALMA delivery, stage pipeline output, "
                    "split deliveries into tar files, verify them and prepare restores.",
        epilog="examples:\n  qa2pack demo\n  qa2pack package SB/ 2011.0.00229.S --mode hard\n"
               "  qa2pack deliver 2011.0.00229.S /delivery/229 --mous-uid uid://A001/X1284/X1ef2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qa2pack {__version__}")
    commands_ = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands_.required = True

    first = argv[0] if argv else ""
    for name, add in COMMANDS.items():
        if first not in COMMANDS or name == first:
            add(commands_)
    return parser
