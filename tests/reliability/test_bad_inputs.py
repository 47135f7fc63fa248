"""Bad inputs to every command: one line on stderr, the documented exit code, and nothing changed.

Each case builds what it needs in a fresh folder, snapshots every path below it (kind, size,
modification time, link target), runs the command through the CLI, and checks the line, the
exit code (2: nothing was written) and that the snapshot is the same afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import pytest

from factories import eb
from qa2pack import Mode, PackageOptions, Style, package
from qa2pack.analyst.casatables import build_tree, make_asdm
from qa2pack.analyst.pipeline_runs import CURRENT, current_run
from qa2pack.api import stage
from qa2pack.cli import main
from qa2pack.delivery.deliver import deliver
from qa2pack.delivery.uids import DeliveryNaming
from qa2pack.run.lock import RunLock, Want

PROJECT = "2013.1.00001.S"
UID = "uid://A001/X70/X1"


@dataclass
class Scene:
    """A reduction folder, and on request a package and a delivery of it, below one folder."""

    root: Path
    templates: object

    @property
    def orig(self) -> Path:
        sb = self.root / "orig" / "SB"
        if not sb.exists():
            build_tree(self.root / "orig", eb("SB/X1", "uid___A002_X70_X1") | {"SB/a.fits": "@fits"}, self.templates)
        return sb

    @property
    def pkg(self) -> Path:
        packpath = self.root / "pkg" / PROJECT
        if not packpath.exists():  # as since Cycle 1: no MSs, so a restore is needed
            package(self.orig, packpath, PackageOptions(mode=Mode.COPY, style=Style.parse("cycle2-nopipe")))
        return packpath

    @property
    def delivery(self) -> Path:
        dest = self.root / "delivery"
        if not dest.exists():
            deliver(self.pkg, dest, naming=DeliveryNaming(mous_uid=UID))
        return dest

    def file(self, name: str, text: str | bytes = "x") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path: its kind, size, link target, and (for files and links) its modification time.

    A folder's modification time is left out where a run took a lock file beside a target in it
    (created, then removed): verify and restore-prep lock before they read what they judge.
    """
    found = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
        mtime = None if stat.S_ISDIR(st.st_mode) else st.st_mtime_ns
        found[path.relative_to(root).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, mtime, link)
    return found


def folder_times(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_dir()}


Case = Callable[[Scene], List[str]]


def _two_members(s: Scene) -> list[str]:
    from factories import FIG2

    build_tree(s.root / "two", FIG2, s.templates)
    package(s.root / "two", s.root / "pkg2" / PROJECT, PackageOptions(mode=Mode.COPY))
    return ["tarsplit", str(s.root / "pkg2" / PROJECT), "--mous-uid", UID]


def _ephemeris_conflict(s: Scene) -> list[str]:
    s.orig  # noqa: B018 - the reduction first, then the two ephemerides
    s.file("orig/SB/X1/titan.eph", "one")
    s.file("orig/SB/titan.eph", "two")
    return ["package", str(s.orig), str(s.root / "p" / PROJECT)]


def _loop(s: Scene) -> list[str]:
    os.symlink("..", s.orig / "X1" / "loop")
    return ["package", str(s.orig), str(s.root / "p" / PROJECT), "--follow-links"]


def _odd_name(s: Scene, name: bytes) -> list[str]:
    with open(os.fsencode(s.orig) + b"/" + name, "w") as handle:
        handle.write("log")
    return ["package", str(s.orig), str(s.root / "p" / PROJECT)]


def _pipeline(s: Scene) -> Path:
    return current_run(s.root / "runs")


def _two_pprs(s: Scene) -> list[str]:
    run = _pipeline(s)
    products = next(run.rglob("products"))
    ppr = next(products.glob("*.pprequest.xml"))
    (products / "PPR_uid___A001_X1284_X9999.xml").write_text(ppr.read_text())
    return ["stage", str(run), str(s.root / "st" / CURRENT.project)]


def _broken_ppr_delivery(s: Scene) -> list[str]:
    staged = s.root / "st" / CURRENT.project

    stage(_pipeline(s), staged, Mode.COPY)
    ppr = next(staged.rglob("*.pprequest.xml"))
    ppr.write_text("<SciPipeRequest><unclosed>")
    (s.root / "st" / f"{CURRENT.project}.manifest.tsv").unlink()  # so that deliver does not catch it
    deliver(staged, s.root / "d2")  # named by the uid of its pipeline manifest
    return ["restore-prep", str(s.root / "d2"), "--into", str(s.root / "r")]


def _calibrated_exists(s: Scene) -> list[str]:
    into = s.root / "r"
    assert main(["restore-prep", str(s.delivery), str(_raw_tar(s)), "--into", str(into), "-q"]) == 0
    member = next(into.rglob("script")).parent
    (member / "calibrated").mkdir()  # scriptForPI.py ran here
    return ["restore-prep", str(s.root / f"{PROJECT}_uid___A002_X70_X1.asdm.sdm.tar"), "--into", str(into)]


def _raw_tar(s: Scene) -> Path:
    asdm = s.root / "asdm" / "uid___A002_X70_X1"
    make_asdm(asdm, "uid___A002_X70_X1")
    path = s.root / f"{PROJECT}_uid___A002_X70_X1.asdm.sdm.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(asdm, "uid___A002_X70_X1.asdm.sdm")
    return path


def _held(s: Scene) -> list[str]:
    s.pkg  # noqa: B018 - made before the lock is taken
    lock = RunLock([Want(s.pkg, exclusive=True)], "package")
    lock.__enter__()
    s.locks.append(lock)  # type: ignore[attr-defined]
    return ["package", str(s.orig), str(s.pkg), "--mode", "copy"]


CASES: dict[str, tuple[Case, str]] = {
    # package / inspect
    "origpath-missing": (lambda s: ["package", str(s.root / "nothere"), str(s.root / "p" / PROJECT)], "does not exist"),
    "origpath-is-a-file": (lambda s: ["package", str(s.file("f.txt")), str(s.root / "p" / PROJECT)], "not a folder"),
    "packpath-inside-origpath": (lambda s: ["package", str(s.orig), str(s.orig / PROJECT)], "inside origpath"),
    "packpath-is-origpath": (lambda s: ["package", str(s.orig), str(s.orig)], "inside origpath"),
    "origpath-inside-packpath": (lambda s: ["package", str(s.orig), str(s.orig.parent)], "inside packpath"),
    "no-eb-products": (lambda s: ["package", str(s.file("empty/notes.txt").parent), str(s.root / "p" / PROJECT)],
                       "no ASDM products"),
    "unknown-mode": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--mode", "zip"], "unknown mode"),
    "unknown-style": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--style", "cycle9-x"],
                      "unknown style"),
    "unknown-append": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--append", "all"],
                       "unknown append"),
    "readme-missing": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--readme", "no.txt"],
                       "readme file does not exist"),
    "readme-is-a-folder": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--readme",
                                      str(s.orig)], "readme file is a folder"),
    "append-without-package": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--append",
                                          "member"], "holds no package"),
    "packpath-not-ours": (lambda s: ["package", str(s.orig), str(s.file("p/mine.txt").parent)],
                          "not a qa2pack package"),
    "packpath-is-a-file": (lambda s: ["package", str(s.orig), str(s.file(PROJECT))], "not a folder"),
    "pi-script-missing": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--pi-script", "no.py"],
                          "PI script does not exist"),
    "config-missing": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--config", "no.toml"],
                       "configuration file not found"),
    "config-not-toml": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--config",
                                   str(s.file("c.toml", "[[["))], "not valid TOML"),
    "config-unknown-key": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--config",
                                      str(s.file("c.toml", "colour = ['red']\n"))], "unknown key"),
    "ous-uids-two": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--ous-uids",
                                "uid://A001/X1/X2,uid://A001/X1/X3"], "needs three uids"),
    "ous-uids-not-uids": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--ous-uids", "a,b,c"],
                          "not an ALMA uid"),
    "ppr-missing": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--ppr", "no.xml"],
                    "cannot read the PPR"),
    "ppr-not-a-ppr": (lambda s: ["package", str(s.orig), str(s.root / "p" / PROJECT), "--ppr",
                                 str(s.file("x.xml", "<Other/>"))], "not a pipeline processing request"),
    "ephemeris-conflict": (_ephemeris_conflict, "two ephemeris files named titan.eph differ"),
    "symlink-loop": (_loop, "symlink loop"),
    "newline-in-name": (lambda s: _odd_name(s, b"a\nb.log"), "cannot be delivered"),
    "not-utf8-name": (lambda s: _odd_name(s, b"caf\xe9_\xff.log"), "not UTF-8"),
    "cross-device-hard": (lambda s: ["package", str(s.orig), "/dev/shm/qa2pack-bad-input/" + PROJECT, "--mode",
                                     "hard"], "different file systems"),
    "inspect-missing": (lambda s: ["inspect", str(s.root / "nothere")], "does not exist"),
    "package-held-by-another-run": (_held, "is in use by 'qa2pack package'"),
    # stage
    "stage-missing": (lambda s: ["stage", str(s.root / "nothere"), str(s.root / "st" / PROJECT)], "does not exist"),
    "stage-not-a-run": (lambda s: ["stage", str(s.orig), str(s.root / "st" / PROJECT)], "not an ALMA Science Pipeline"),
    "stage-two-pprs": (_two_pprs, "two PPRs"),
    "stage-move-mode": (lambda s: ["stage", str(_pipeline(s)), str(s.root / "st" / PROJECT), "--mode", "move"],
                        "supports the modes"),
    # tarsplit
    "tarsplit-not-a-package": (lambda s: ["tarsplit", str(s.orig), "--mous-uid", UID], "holds no package"),
    "tarsplit-missing": (lambda s: ["tarsplit", str(s.root / "nothere"), "--mous-uid", UID], "not a package folder"),
    "tarsplit-incomplete": (lambda s: ["tarsplit", str(s.file(f"p/{PROJECT}/.qa2pack-incomplete", "{}").parent),
                                       "--mous-uid", UID], "incomplete package"),
    "tarsplit-fake": (lambda s: (package(s.orig, s.root / "f" / PROJECT), ["tarsplit", str(s.root / "f" / PROJECT),
                                                                           "--mous-uid", UID])[1], "fake mode"),
    "tarsplit-bad-size": (lambda s: ["tarsplit", str(s.pkg), "--max-size", "lots", "--mous-uid", UID], "not a size"),
    "tarsplit-tiny-size": (lambda s: ["tarsplit", str(s.pkg), "--max-size", "100", "--mous-uid", UID],
                           "below one tar record"),
    "tarsplit-no-uid": (lambda s: ["tarsplit", str(s.pkg)], "--mous-uid"),
    "tarsplit-bad-mous-uid": (lambda s: ["tarsplit", str(s.pkg), "--mous-uid", "member_ouss_id"], "not an ALMA uid"),
    "tarsplit-not-a-project-code": (lambda s: (package(s.orig, s.root / "out", PackageOptions(mode=Mode.COPY)),
                                               ["tarsplit", str(s.root / "out"), "--mous-uid", UID])[1],
                                    "not named by a project code"),
    "tarsplit-mous-uid-two-members": (_two_members, "give a --uid-map"),
    "tarsplit-uid-map-missing": (lambda s: ["tarsplit", str(s.pkg), "--uid-map", "no.txt"], "cannot read the uid map"),
    "tarsplit-uid-map-bad": (lambda s: ["tarsplit", str(s.pkg), "--uid-map", str(s.file("m.txt", "just-one\n"))],
                             "expected 'FOLDER UID'"),
    "tarsplit-unknown-member": (lambda s: ["tarsplit", str(s.pkg), "--mous-uid", UID, "--member", "nobody"],
                                "no member named nobody"),
    # verify
    "verify-missing": (lambda s: ["verify", str(s.root / "nothere")], "does not exist"),
    "verify-mixed": (lambda s: ["verify", str(s.pkg), str(s.file("x.txt"))], "give one package folder"),
    "verify-two-projects": (lambda s: ["verify", str(s.file("2013.1.00001.S_uid___A001_X1_X2_001_of_001.tar")),
                                       str(s.file("2014.1.00001.S_uid___A001_X1_X2_001_of_001.tar"))],
                            "several projects"),
    "verify-manifest-binary": (lambda s: ["verify", *map(str, sorted(s.delivery.glob("*.tar"))), "--manifest",
                                          str(s.file("m.tsv", b"\xff\xfe\x00"))], "not UTF-8"),
    "verify-manifest-foreign": (lambda s: ["verify", *map(str, sorted(s.delivery.glob("*.tar"))), "--manifest",
                                           str(s.file("m.tsv", "md5 size path\n"))], "not a qa2pack manifest"),
    "verify-bad-config": (lambda s: ["verify", str(s.pkg), "--config", str(s.file("c.toml", "x = 1\n"))],
                          "unknown key"),
    # deliver
    "deliver-dest-exists": (lambda s: ["deliver", str(s.pkg), str(s.file("d/x").parent), "--mous-uid", UID],
                            "exists already"),
    "deliver-dest-below-a-file": (lambda s: ["deliver", str(s.pkg), str(s.file("afile") / "d"), "--mous-uid", UID],
                                  "is a file, not a folder"),
    "deliver-incomplete": (lambda s: ["deliver", str(s.file(f"p/{PROJECT}/.qa2pack-incomplete", "{}").parent),
                                      str(s.root / "d"), "--mous-uid", UID], "incomplete package"),
    "deliver-fake": (lambda s: (package(s.orig, s.root / "f" / PROJECT), ["deliver", str(s.root / "f" / PROJECT),
                                                                          str(s.root / "d"), "--mous-uid", UID])[1],
                     "fake mode"),
    "deliver-no-uid": (lambda s: ["deliver", str(s.pkg), str(s.root / "d")], "--mous-uid"),
    # restore-prep
    "restore-input-missing": (lambda s: ["restore-prep", str(s.root / "no.tar"), "--into", str(s.root / "r")],
                              "does not exist"),
    "restore-into-is-a-file": (lambda s: ["restore-prep", str(s.delivery), "--into", str(s.file("r"))],
                               "is a file, not a folder"),
    "restore-bad-spacesaving": (lambda s: ["restore-prep", str(s.delivery), "--into", str(s.root / "r"),
                                           "--spacesaving", "-1"], "SPACESAVING must be 0 or more"),
    "restore-raw-only": (lambda s: ["restore-prep", str(_raw_tar(s)), "--into", str(s.root / "r")],
                         "no member folder"),
    "restore-missing-asdm": (lambda s: ["restore-prep", str(s.delivery), "--into", str(s.root / "r")],
                             "no ASDM in raw/"),
    "restore-broken-ppr": (_broken_ppr_delivery, "is not valid XML"),
    "restore-calibrated-exists": (_calibrated_exists, "calibrated exists already"),
    "restore-ppr-for-analyst-data": (lambda s: ["restore-prep", str(s.delivery), str(_raw_tar(s)), "--into",
                                                str(s.root / "r"), "--write-ppr"], "a restore PPR is for pipeline"),
    "restore-not-a-tar": (lambda s: ["restore-prep", str(s.file("notes.txt")), "--into", str(s.root / "r")],
                          "not a tar file or folder"),
    "restore-folder-of-nothing": (lambda s: ["restore-prep", str(s.file("nothing/x.txt").parent), "--into",
                                             str(s.root / "r")], "neither an ASDM"),
    # workspace
    "workspace-start-missing": (lambda s: ["workspace", "start", str(s.root / "nothere")], "does not exist"),
    "workspace-start-no-asdm": (lambda s: ["workspace", "start", str(s.file("SBx/notes.txt").parent)], "no ASDM"),
    "workspace-clear-not-eb": (lambda s: ["workspace", "clear", str(s.file("plain/x.txt").parent), "--yes"],
                               "neither an EB folder"),
    "workspace-clear-no-terminal": (lambda s: ["workspace", "clear", str(s.orig / "X1")], "confirm on a terminal"),
    "workspace-fluxequal-no-eb": (lambda s: ["workspace", "fluxequal-start", str(s.file("plain/x.txt").parent)],
                                  "no EB folder"),
    # the command line itself
    "unknown-command": (lambda s: ["frobnicate"], "invalid choice"),
    "missing-argument": (lambda s: ["package", str(s.orig)], "required"),
    "unknown-option": (lambda s: ["verify", str(s.pkg), "--colour"], "unrecognized arguments"),
    "config-command-missing-file": (lambda s: ["config", "--config", "no.toml"], "configuration file not found"),
}


@pytest.fixture
def scene(tmp_path: Path, templates) -> Scene:
    made = Scene(tmp_path / "scene", templates)
    made.root.mkdir()
    made.locks = []  # type: ignore[attr-defined]
    yield made
    for lock in made.locks:  # type: ignore[attr-defined]
        lock.release()
    shutil.rmtree("/dev/shm/qa2pack-bad-input", ignore_errors=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_input_is_one_line_exit_2_and_changes_nothing(case: str, scene: Scene, capsys,
                                                           monkeypatch) -> None:
    setup, expected = CASES[case]
    monkeypatch.chdir(scene.root)
    argv = setup(scene)
    capsys.readouterr()
    before, times = snapshot(scene.root), folder_times(scene.root)
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("qa2pack: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert expected in err, err
    assert snapshot(scene.root) == before
    if argv[0] in ("package", "inspect", "stage", "tarsplit", "deliver", "workspace", "config"):
        assert folder_times(scene.root) == times  # these refuse before they make even a lock file


def test_there_are_more_than_sixty_cases() -> None:
    assert len(CASES) >= 60
