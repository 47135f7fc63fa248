"""Carry out a plan: one executor, one transfer function per mode (SPEC section 5).

Order of work: the marker goes in first (``journal``), an old package is moved back and
removed if it is being replaced, then folders are made, files transferred (copies on
several threads), archives and READMEs written, and the marker removed last.  Any failure
leaves the marker, so the partial package is visible and the next run rolls it back.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import tarfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import CrossDeviceError, ExecutionError, Qa2packError
from .journal import MARKER, Journal, moves_count, undo_moves
from .manifest import HashingWriter, copy_with_md5, hash_files, new_md5
from .model import Action, Append, Mode, Op, Plan
from .progress import Progress, SilentProgress

log = logging.getLogger(__name__)

# -- transfer functions: (source, destination) -> md5 or None ------------------------------------

Transfer = Callable[[str, str], "str | None"]


def fake_file(src: str, dst: str) -> str | None:
    """Create an empty file with the target's name."""
    os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return None


def hard_link(src: str, dst: str) -> str | None:
    """Hard-link the source: same inode, no data written."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # preflight should have caught this; stay explicit anyway
            raise CrossDeviceError(Path(src), Path(dst), "hard") from None
        raise
    return None


def copy_file(src: str, dst: str) -> str | None:
    """Copy with timestamps, hashing on the way (one read)."""
    return copy_with_md5(src, dst)


class EmptyInodes:
    """Fake files as hard links to a few shared empty files, made on demand.

    Creating an inode costs ten times a link on common file systems; a fake package holds only
    empty files, so sharing empty inodes makes ``fake`` as fast as ``hard`` (``cp -al``).  A new
    empty file is started every ``per_inode`` links (file systems cap links per inode), and the
    shared sources are removed when the run ends.
    """

    def __init__(self, folder: Path, record: Callable[[str], None], per_inode: int = 30_000) -> None:
        self.folder = folder
        self.record = record
        self.per_inode = per_inode
        self.sources: list[str] = []
        self._count = per_inode

    def link(self, src: str, dst: str) -> str | None:
        """Make ``dst`` an empty file (a link to the current shared empty inode)."""
        if self._count >= self.per_inode:
            name = f".qa2pack-empty-{len(self.sources)}"
            self.record(name)
            self.sources.append(str(self.folder / name))
            fake_file("", self.sources[-1])
            self._count = 0
        try:
            os.link(self.sources[-1], dst)
        except OSError as exc:
            if exc.errno != errno.EMLINK:
                raise
            self._count = self.per_inode  # this file system allows fewer links: start a new one
            return self.link(src, dst)
        self._count += 1
        return None

    def remove_sources(self) -> None:
        """Remove the shared empty files (the package's files keep their inodes)."""
        for source in self.sources:
            if os.path.lexists(source):
                os.unlink(source)


# Threads per mode: copies overlap reading, hashing and writing; moves stay in journal order.
THREADS: dict[Mode, int] = {Mode.COPY: 4, Mode.MANIMGONLY: 4}


def _run_parallel(work: list[tuple[_Job, Callable[[str, str], str | None]]], workers: int,
                  progress: Progress) -> list[tuple[_Job, str | None]]:
    """Run transfers on ``workers`` threads, each on its own share (balanced by bytes).

    One future per thread rather than per file keeps the overhead flat for 100k small files;
    the first failure stops the other threads at their next file.
    """
    if workers <= 1 or len(work) <= 1:
        out = []
        for job, transfer in work:
            out.append((job, transfer(job.src, job.dst)))
            progress.advance(1, job.size)
        return out
    shares: list[list[tuple[_Job, Callable[[str, str], str | None]]]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for item in sorted(work, key=lambda w: -w[0].size):
        slot = loads.index(min(loads))
        shares[slot].append(item)
        loads[slot] += item[0].size + 4096  # a small cost per file, so many empty files also spread out
    abort = threading.Event()
    lock = threading.Lock()

    def run(share: list[tuple[_Job, Callable[[str, str], str | None]]]) -> list[tuple[_Job, str | None]]:
        done = []
        try:
            for job, transfer in share:
                if abort.is_set():
                    break
                done.append((job, transfer(job.src, job.dst)))
                with lock:
                    progress.advance(1, job.size)
        except BaseException:
            abort.set()
            raise
        return done

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, share) for share in shares if share]
        results = [future.result() for future in futures]
    return [pair for chunk in results for pair in chunk]


@dataclass
class ExecutionResult:
    """What the executor did: the manifest entries and a few counts."""

    entries: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    files: int = 0
    nbytes: int = 0
    moved_back: int = 0


@dataclass(frozen=True, slots=True)
class _Job:
    src: str
    dst: str
    rel: str
    size: int


class Executor:
    """Apply one plan to packpath."""

    def __init__(self, plan: Plan, packpath: Path, progress: Progress | None = None, started: str = "") -> None:
        self.plan = plan
        self.packpath = packpath
        self.progress = progress or SilentProgress()
        self.started = started
        self.result = ExecutionResult()
        self.journal: Journal | None = None
        self._made: set[str] = set()
        self._joined = tuple(m.folder for m in plan.members if m.joins_existing)
        self._ticket = frozenset(plan.ticket)
        self.empty = EmptyInodes(packpath, self._record_created)
        self._transfers = {mode: make(self) for mode, make in TRANSFERS.items()}

    # -- helpers --------------------------------------------------------------------------------
    def _abs(self, rel: PurePosixPath | str) -> str:
        return os.path.join(str(self.packpath), str(rel))

    def _source(self, action: Action) -> str:
        root = action.origin_root or self.plan.origpath
        return os.path.join(str(root), action.source or "")

    def _transfer_for(self, action: Action) -> Transfer:
        mode = self.plan.mode
        if action.origin_root is not None:
            return fake_file if mode is Mode.FAKE else copy_file  # files from outside origpath are copied
        if mode is Mode.MOVE and action.link_target is not None:
            return copy_file  # a symlink at the origin is copied; what it points to stays where it is
        if mode is Mode.TICKET and self._in_ticket(action):
            return hard_link
        return self._transfers[mode]

    def _in_ticket(self, action: Action) -> bool:
        first = action.files[0][0] if action.files else ""
        return (action.target / first if first else action.target) in self._ticket

    def _mkdir(self, rel: str) -> None:
        if rel in self._made:
            return
        path = self._abs(rel)
        if not os.path.isdir(path):
            parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
            if parent:
                self._mkdir(parent)
            if self.journal is not None and any(PurePosixPath(rel).is_relative_to(j) and PurePosixPath(rel) != j
                                                for j in self._joined):
                self.journal.created(rel)
            os.mkdir(path)
        self._made.add(rel)

    # -- phases -----------------------------------------------------------------------------------
    def _prepare(self) -> None:
        plan = self.plan
        self.packpath.mkdir(parents=True, exist_ok=True)
        replacing = plan.append is Append.REPLACE
        header = {"mode": plan.mode.value, "append": plan.append.value, "started": self.started,
                  "origpath": str(plan.origpath), "moves_start": 0 if replacing else moves_count(self.packpath)}
        self.journal = Journal(self.packpath, header)
        if replacing:
            self.result.moved_back = undo_moves(self.packpath)
            if self.result.moved_back:
                log.info("moved %d files of the old package back to their origin before replacing it",
                         self.result.moved_back)
            for entry in sorted(os.listdir(self.packpath)):
                if entry != MARKER:
                    path = self.packpath / entry
                    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        else:
            for rel in plan.new_dirs:
                self.journal.created(rel.as_posix())

    def _jobs(self) -> Iterator[tuple[Action, list[_Job]]]:
        for action in self.plan.actions:
            if action.op is not Op.TRANSFER:
                continue
            src = self._source(action)
            target = action.target.as_posix()
            if action.is_tree:
                self._mkdir(target)
                for inner in action.dirs:
                    self._mkdir(f"{target}/{inner}")
                jobs = [_Job(os.path.join(src, f), self._abs(f"{target}/{f}"), f"{target}/{f}", size)
                        for f, size in action.files]
            else:
                parent = action.target.parent.as_posix()
                self._mkdir(parent)
                if self.journal is not None and any(action.target.is_relative_to(j) for j in self._joined):
                    self.journal.created(target)
                jobs = [_Job(src, self._abs(target), target, action.size)]
            yield action, jobs

    def _run_jobs(self) -> None:
        plan = self.plan
        work: list[tuple[_Job, Callable[[str, str], str | None]]] = []
        trees: list[Action] = []
        for action, jobs in self._jobs():  # folders are made here, before any file is written
            transfer = self._transfer_for(action)
            work += [(job, transfer) for job in jobs]
            if action.is_tree:
                trees.append(action)
        self.progress.start(f"{plan.mode.value}: {plan.packname}", sum(j.size for j, _ in work), len(work))
        copies = plan.mode in (Mode.COPY, Mode.MANIMGONLY)
        workers = THREADS.get(plan.mode, 1)
        for job, md5 in _run_parallel(work, workers, self.progress):
            self.result.entries[job.rel] = (job.size, md5)
        if copies:
            for action in trees:
                self._copy_dir_times(action)
        self.progress.finish()

    def _record_created(self, rel: str) -> None:
        if self.journal is not None:
            self.journal.created(rel)

    def move_file(self, src_text: str, dst_text: str) -> str | None:
        """Move one file into the package and leave a link to it at the origin."""
        assert self.journal is not None
        src, dst = Path(src_text), Path(dst_text)
        self.journal.moved(src, dst)  # synced before the rename: an interruption is recoverable
        try:
            os.rename(src, dst)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise CrossDeviceError(src, dst, "move") from None
            raise
        os.symlink(dst, src)  # files only: folders at the origin stay real folders
        return None

    def _copy_dir_times(self, action: Action) -> None:
        if not action.is_tree:
            return
        src = self._source(action)
        target = action.target.as_posix()
        for inner in sorted(action.dirs, reverse=True):  # deepest first: children change parent mtimes
            shutil.copystat(os.path.join(src, inner), self._abs(f"{target}/{inner}"))
        shutil.copystat(src, self._abs(target))

    def _write_archives(self) -> None:
        fake = self.plan.mode in (Mode.FAKE, Mode.TICKET)
        for action in self.plan.actions:
            if action.op is not Op.ARCHIVE:
                continue
            self._mkdir(action.target.parent.as_posix())
            dst = self._abs(action.target)
            if any(action.target.is_relative_to(j) for j in self._joined) and self.journal is not None:
                self.journal.created(action.target.as_posix())
            if fake:
                fake_file("", dst)
                self.result.entries[action.target.as_posix()] = (action.size, None)
                continue
            tmp = dst + ".tmp"
            with open(tmp, "wb") as raw, HashingWriter(raw) as writer, \
                    tarfile.open(fileobj=writer, mode="w:gz") as tar:  # type: ignore[call-overload]
                    folder = action.target.name[: -len(".tgz")]
                    for part in action.parts:
                        self._add_to_archive(tar, part, folder)
            os.replace(tmp, dst)
            md5 = writer.digest.hexdigest() if self.plan.mode is Mode.COPY else None
            self.result.entries[action.target.as_posix()] = (writer.size, md5)

    def _add_to_archive(self, tar: tarfile.TarFile, part: Action, folder: str) -> None:
        src = self._source(part)
        arc = f"{folder}/{part.target.name}"
        if not part.is_tree:
            tar.add(src, arc, recursive=False)
            return
        tar.add(src, arc, recursive=False)
        names = sorted([(d, True) for d in part.dirs] + [(f, False) for f, _ in part.files])
        for inner, _ in names:
            tar.add(os.path.join(src, inner), f"{arc}/{inner}", recursive=False)

    def _write_texts(self) -> None:
        for action in self.plan.actions:
            if action.op is not Op.TEXT:
                continue
            self._mkdir(action.target.parent.as_posix())
            dst = Path(self._abs(action.target))
            data = (action.text or "").encode()
            if dst.exists() and self.journal is not None:
                self.journal.replaced_readme(action.target.as_posix(), dst.read_text(encoding="utf-8"))
            tmp = dst.with_name(dst.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dst)
            md5 = None
            if self.plan.mode is Mode.COPY or self.plan.checksums:
                digest = new_md5()
                digest.update(data)
                md5 = digest.hexdigest()
            self.result.entries[action.target.as_posix()] = (len(data), md5)

    def _checksums(self) -> None:
        if not self.plan.checksums or self.plan.mode not in (Mode.HARD, Mode.MOVE):
            return
        entries = self.result.entries
        todo = [(rel, self._abs(rel)) for rel, (_, md5) in entries.items() if md5 is None]
        for rel, md5 in hash_files(todo, workers=2).items():
            entries[rel] = (entries[rel][0], md5)

    def run(self) -> ExecutionResult:
        """Carry out the plan; on failure leave the marker and raise :class:`ExecutionError`."""
        try:
            self._prepare()
            self._run_jobs()
            self._write_archives()
            self._write_texts()
            self._checksums()
        except Qa2packError:
            self._abandon()
            raise
        except OSError as exc:
            self._abandon()
            where = exc.filename or self.packpath
            raise ExecutionError(
                f"failed while writing the package ({exc.strerror}: {where}); the partial package is marked "
                f"by {self.packpath / MARKER} and the next run rolls it back"
            ) from exc
        except BaseException:
            self._abandon()
            raise
        finally:
            self.empty.remove_sources()
        self.result.files = len(self.result.entries)
        self.result.nbytes = sum(size for size, _ in self.result.entries.values())
        return self.result

    def _abandon(self) -> None:
        self.progress.finish()
        if self.journal is not None:
            self.journal.close()

    def commit(self) -> None:
        """Remove the marker: everything (package, manifest, ticket) is written."""
        if self.journal is not None:
            self.journal.finish()


# Each mode's transfer, made for one executor (tests swap these to inject failures).
TRANSFERS: dict[Mode, Callable[[Executor], Transfer]] = {
    Mode.FAKE: lambda executor: executor.empty.link,
    Mode.TICKET: lambda executor: executor.empty.link,
    Mode.HARD: lambda executor: hard_link,
    Mode.COPY: lambda executor: copy_file,
    Mode.MANIMGONLY: lambda executor: copy_file,
    Mode.MOVE: lambda executor: executor.move_file,
}
