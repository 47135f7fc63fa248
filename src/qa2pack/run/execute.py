"""Carry out a plan: one executor, one transfer function per mode.

Order of work: the marker goes in first (``journal``), an old package is moved back and
removed if it is being replaced, then folders are made, files transferred (copies on
several threads; links a folder at a time, half of them by a forked helper process when
there are many, with results kept as the plan's batches rather than one per file), archives
and READMEs written, and the marker removed last.  Any failure leaves the marker, so the partial package is visible and
the next run rolls it back.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import islice
from operator import itemgetter
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, List, NamedTuple, Optional, Tuple, TypeVar, Union

from ..core.child import open_folder
from ..core.errors import CrossDeviceError, ExecutionError, Qa2packError, note_writing
from ..core.forked import LinkHelper, LinkJob, Report, share
from ..core.model import Action, Append, Mode, Op, Plan
from ..core.record import field, record
from ..delivery.layout import MARKER
from ..formats.atomic import write_atomic
from ..formats.manifest import HashingWriter, Row, SourceChanged, Unhashed, copy_with_md5, hash_files_steady
from ..formats.md5runs import new_md5
from .journal import Journal, moves_count, undo_moves
from .progress import Progress, SilentProgress

if TYPE_CHECKING:
    import tarfile

log = logging.getLogger(__name__)

# -- transfer functions: (source, destination) -> (md5 or None, size read or None) ---------------

Transfer = Callable[[str, str], Tuple[Optional[str], Optional[int]]]
NOT_READ: tuple[str | None, int | None] = (None, None)  # nothing was read: the planned size stands


def fake_file(src: str, dst: str) -> tuple[str | None, int | None]:
    """Create an empty file with the target's name."""
    os.close(os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    return NOT_READ


def hard_link(src: str, dst: str) -> tuple[str | None, int | None]:
    """Hard-link the source: same inode, no data written."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno == errno.EXDEV:  # preflight should have caught this; stay explicit anyway
            raise CrossDeviceError(Path(src), Path(dst), "hard") from None
        raise
    return NOT_READ


def _failed(exc: OSError, src_dir: str, dst_dir: str, name: str, mode: str) -> Exception:
    """Name a failed file of a folder's batch by its full paths, as a per-file transfer would."""
    if exc.errno == errno.EXDEV:
        return CrossDeviceError(Path(src_dir, name), Path(dst_dir, name), mode)
    return OSError(exc.errno, exc.strerror, os.path.join(src_dir, name), None, os.path.join(dst_dir, name))


def hard_link_names(src_dir: str, dst_dir: str, names: Sequence[str], abort: threading.Event) -> None:
    """Hard-link many files of one folder: names resolved from open folders, not whole paths, per file."""
    src_fd = open_folder(src_dir)
    try:
        dst_fd = open_folder(dst_dir)
        try:
            _link_from(src_fd, dst_fd, names, abort, lambda name, exc: _failed(exc, src_dir, dst_dir, name, "hard"))
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)


def _link_from(src_fd: int, dst_fd: int, names: Sequence[str], abort: threading.Event,
               failed: Callable[[str, OSError], Exception]) -> None:
    link = os.link
    for start in range(0, len(names), _ABORT_EVERY):
        if abort.is_set():
            return
        for name in names[start:start + _ABORT_EVERY]:
            try:
                link(name, name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            except OSError as exc:
                raise failed(name, exc) from None


def _remove_if_there(path: Path) -> None:
    """Remove a file or folder of the package being replaced; one that is gone already is fine.

    Only the entry itself may be gone (another run's short-lived trial link, say): something
    vanishing inside a folder of the locked package is still an error.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError as exc:
        if exc.filename not in (str(path), path):
            raise


def copy_file(src: str, dst: str) -> tuple[str | None, int | None]:
    """Copy with timestamps, hashing on the way (one read)."""
    return copy_with_md5(src, dst)


OWN_LANE, HELPER_LANE = 0, 1  # whose shared empty files a fake link takes (EmptyInodes)


class EmptyInodes:
    """Fake files as hard links to a few shared empty files, made on demand.

    Creating an inode costs ten times a link on common file systems; a fake package holds only
    empty files, so sharing empty inodes makes ``fake`` as fast as ``hard`` (``cp -al``).  A new
    empty file is started every ``per_inode`` links (file systems cap links per inode), and the
    shared sources are removed when the run ends.  Links to one inode queue for its lock, so
    the forked link helper takes its links from empty files of its own (``HELPER_LANE``).
    """

    def __init__(self, folder: Path, record: Callable[[str], None], per_inode: int = 30_000) -> None:
        self.folder = folder
        self.record = record
        self.per_inode = per_inode
        self.sources: list[str] = []
        self._current = ["", ""]  # per lane (this process, the helper): the empty file linked to now
        self._counts = [per_inode, per_inode]
        self._lock = threading.Lock()

    def link(self, src: str, dst: str) -> tuple[str | None, int | None]:
        """Make ``dst`` an empty file (a link to the current shared empty inode)."""
        source, _ = self.reserve(1)
        try:
            os.link(source, dst)
        except OSError as exc:
            if exc.errno != errno.EMLINK:
                raise
            self._full(source, OWN_LANE)
            return self.link(src, dst)
        return NOT_READ

    def reserve(self, wanted: int, lane: int = OWN_LANE) -> tuple[str, int]:
        """Return the lane's current shared empty file and how many of ``wanted`` links it may still take."""
        with self._lock:
            if self._counts[lane] >= self.per_inode:
                name = f".qa2pack-empty-{len(self.sources)}"
                self.record(name)
                self.sources.append(str(self.folder / name))
                fake_file("", self.sources[-1])
                self._current[lane], self._counts[lane] = self.sources[-1], 0
            granted = min(wanted, self.per_inode - self._counts[lane])
            self._counts[lane] += granted
            return self._current[lane], granted

    def _full(self, source: str, lane: int) -> None:
        """Start the lane on a new empty file: this file system allows ``source`` fewer links than asked."""
        with self._lock:
            if self._current[lane] == source:
                self._counts[lane] = self.per_inode

    def link_names(self, src_dir: str, dst_dir: str, names: Sequence[str], abort: threading.Event) -> None:
        """Make many empty files of one folder, as links from the open folder (see :meth:`link`)."""
        dst_fd = open_folder(dst_dir)
        try:
            done = 0
            while done < len(names) and not abort.is_set():
                source, granted = self.reserve(min(_ABORT_EVERY, len(names) - done))
                for name in names[done:done + granted]:
                    try:
                        os.link(source, name, dst_dir_fd=dst_fd)
                    except OSError as exc:
                        if exc.errno != errno.EMLINK:
                            raise _failed(exc, src_dir, dst_dir, name, "fake") from None
                        self._full(source, OWN_LANE)
                        break
                    done += 1
        finally:
            os.close(dst_fd)

    def remove_sources(self) -> None:
        """Remove the shared empty files (the package's files keep their inodes)."""
        for source in self.sources:
            if os.path.lexists(source):
                os.unlink(source)


# Threads per mode: copies overlap reading, hashing and writing on several threads.  Links are
# too short for that (threads queue for the GIL after each one), so many of them are shared
# with a forked helper process instead (HELPER_FILES); a few run on threads.  move stays on one
# thread so that its journal is in the order of the renames.
THREADS: dict[Mode, int] = {Mode.COPY: 4, Mode.MANIMGONLY: 4, Mode.HARD: 2, Mode.FAKE: 2, Mode.TICKET: 2}
FOLDER_THREADS = 4
_CHUNK_FILES = 512
_CHUNK_BYTES = 256 << 20
_FOLDER_FILES = 16384  # a folder's links in tasks this big: its folder lock stays with one thread
_ABORT_EVERY = 256  # files between two looks at the abort flag
HELPER_FILES = 1024  # links in folders from which a forked helper makes half (see core/forked.py)

Done = List[Tuple[str, int, Optional[str]]]  # (package-relative path, size, md5)
BatchTransfer = Callable[[str, str, List[str], threading.Event], None]


class Planned(NamedTuple):
    """A batch of files transferred as planned (nothing read): the plan has their sizes."""

    rel: str
    files: Sequence[tuple[str, int]]


Task = Callable[[], Union[Done, Planned]]
T = TypeVar("T")


class Batch(NamedTuple):
    """One folder's files (or part of them) transferred by a :data:`BatchTransfer`."""

    transfer: BatchTransfer
    src: str
    dst: str
    rel: str
    files: Sequence[tuple[str, int]]


def take_turns(streams: Iterable[Iterator[T]], width: int) -> Iterator[T]:
    """Yield the items of up to ``width`` streams at a time, one of each in turn; a stream that ends makes room for the next."""
    waiting = iter(streams)
    turns: deque[Iterator[T]] = deque(islice(waiting, max(1, width)))
    while turns:
        stream = turns.popleft()
        for item in stream:
            yield item
            turns.append(stream)
            break
        else:  # it ended
            turns.extend(islice(waiting, 1))


def run_tasks(tasks: Iterator[Task], workers: int, abort: threading.Event) -> Iterator[Done | Planned]:
    """Run tasks on ``workers`` threads, at most a few queued at a time (memory stays flat).

    The first failure sets ``abort`` (tasks check it between files) and is raised once the
    tasks already running have stopped.
    """
    if workers <= 1:
        for task in tasks:
            yield task()
        return
    pending: deque[Future[Done | Planned]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        try:
            for task in tasks:
                pending.append(pool.submit(task))
                while len(pending) > 4 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BaseException:
            abort.set()
            raise


@record(frozen=False)
class ExecutionResult:
    """What the executor did: the manifest entries and a few counts.

    Files linked as planned stay in their batches (``planned``), which share the plan's names
    and sizes: a package of many files costs no object per file here.  Files read or written
    one by one are in ``entries``.
    """

    entries: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    planned: list[Planned] = field(default_factory=list)
    files: int = 0
    nbytes: int = 0
    moved_back: int = 0

    def absorb_planned(self) -> None:
        """Move the planned batches into ``entries`` (when every file needs an entry of its own).

        An entry written later in the run (an archive, a README) wins over a planned file of the
        same path, as it does on disk.
        """
        merged: dict[str, tuple[int, str | None]] = {}
        for batch in self.planned:
            prefix = batch.rel + "/"
            merged.update((prefix + name, (size, None)) for name, size in batch.files)
        merged.update(self.entries)
        self.entries = merged
        self.planned.clear()

    def listing(self) -> Iterator[Row | Unhashed]:
        """Yield every file in path order: a row each, except that a batch linked as planned stays one block.

        A batch's paths share its folder and are sorted, so it is one range of the order; only
        if ranges overlap (never in a plan) is everything sorted together instead.
        """
        ranges: list[tuple[str, str, Planned | str]] = [
            (f"{b.rel}/{b.files[0][0]}", f"{b.rel}/{b.files[-1][0]}", b) for b in self.planned if b.files]
        ranges += [(rel, rel, rel) for rel in self.entries]
        ranges.sort(key=itemgetter(0))
        if any(earlier[1] >= later[0] for earlier, later in zip(ranges, ranges[1:])):
            self.absorb_planned()
            yield from ((rel, *self.entries[rel]) for rel in sorted(self.entries))
            return
        for _, _, item in ranges:
            if isinstance(item, str):
                yield (item, *self.entries[item])
            else:
                yield Unhashed(item.rel, item.files)

    def rows(self) -> Iterator[Row]:
        """Yield (path, size, md5) of every file in path order."""
        for item in self.listing():
            if isinstance(item, Unhashed):
                prefix = item.folder + "/"
                yield from ((prefix + name, size, None) for name, size in item.files)
            else:
                yield item


class Executor:
    """Apply one plan to packpath."""

    def __init__(self, plan: Plan, packpath: Path, progress: Progress | None = None, started: str = "") -> None:
        self.plan = plan
        self.packpath = packpath
        self.progress = progress or SilentProgress()
        self.started = started
        self.result = ExecutionResult()
        self.changed: list[str] = []  # sources that changed while the run read them (said in the report)
        self.journal: Journal | None = None
        self._made: set[str] = set()
        self._joined = tuple(f"{m.folder.as_posix()}/" for m in plan.members if m.joins_existing)
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
        """Make a package folder and its parents once (remembered), journaling new ones in joined members."""
        if rel in self._made:
            return
        path = f"{self.packpath}/{rel}"
        if not os.path.isdir(path):
            parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
            if parent:
                self._mkdir(parent)
            if self._joined:
                self._record_if_joined(rel)
            os.mkdir(path)
        self._made.add(rel)

    def _record_if_joined(self, rel: str) -> None:
        """In a member this run joins, note what it adds, so a roll-back removes exactly that."""
        if self.journal is not None and rel.startswith(self._joined):
            self.journal.created(rel)

    # -- phases -----------------------------------------------------------------------------------
    def _prepare(self) -> None:
        plan = self.plan
        note_writing(str(self.packpath))
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
                    _remove_if_there(self.packpath / entry)
        else:
            for rel in plan.new_dirs:
                self.journal.created(rel.as_posix())

    def _make_folders(self, transfers: Sequence[Action]) -> None:
        """Make every folder the transfers need before any file moves, one depth level at a time.

        A folder costs a file system far more than a link (a new inode and block, often read
        cold), and folders in different parents are made in parallel by the kernel, so each
        level runs on several threads.
        Folders in a member this run joins are made here first, one by one, so that the
        journal names exactly what this run adds.
        """
        levels: dict[int, list[str]] = {}
        for action in transfers:
            rel = action.target.as_posix()
            if not action.is_tree:
                self._mkdir(action.target.parent.as_posix())
                continue
            if self._joined and rel.startswith(self._joined):
                self._mkdir(rel)
            else:
                self._mkdir(action.target.parent.as_posix())
                levels.setdefault(rel.count("/"), []).append(rel)
            for inner in action.dirs:  # all new: made inside a folder this run makes
                path = f"{rel}/{inner}"
                levels.setdefault(path.count("/"), []).append(path)
        if not levels:
            return
        with ThreadPoolExecutor(max_workers=FOLDER_THREADS) as pool:
            for depth in sorted(levels):  # parents before children
                names = levels[depth]
                step = max(16, len(names) // (4 * FOLDER_THREADS) + 1)
                for _ in pool.map(self._make_new_folders, (names[i:i + step] for i in range(0, len(names), step))):
                    pass

    def _make_new_folders(self, rels: Sequence[str]) -> None:
        root = str(self.packpath)
        for rel in rels:
            try:
                os.mkdir(f"{root}/{rel}")
            except FileExistsError:
                if not os.path.isdir(f"{root}/{rel}"):
                    raise

    def _batch_for(self, transfer: Transfer) -> BatchTransfer | None:
        """Return the per-folder form of a transfer that reads nothing (links), if it has one."""
        if transfer is hard_link:
            return hard_link_names
        if transfer == self.empty.link:
            return self.empty.link_names
        return None

    def _batches(self, action: Action, batch: BatchTransfer, src: str, dst: str, rel: str) -> Iterator[Batch]:
        files = action.files
        for start in range(0, len(files), _FOLDER_FILES):
            yield Batch(batch, src, dst, rel, files[start:start + _FOLDER_FILES])

    def _transfer_batch(self, batch: BatchTransfer, src: str, dst: str, rel: str,
                        files: Sequence[tuple[str, int]], abort: threading.Event) -> Planned:
        batch(src, dst, [name for name, _ in files], abort)
        self.progress.advance(len(files), sum(size for _, size in files))
        return Planned(rel, files)

    def _tasks(self, abort: threading.Event, batches: list[Batch], workers: int) -> Iterator[Task]:
        """Yield each action's files in chunks to transfer (their folders are made already).

        The chunks of ``workers`` actions take turns, so that the threads at work at one time write
        into different folders: the file system makes one folder's new files one at a time (the
        folder stays locked while it finds each an inode), several folders' in parallel.  Whole
        folders that are linked rather than read go to ``batches`` instead.
        """
        actions = (action for action in self.plan.actions if action.op is Op.TRANSFER)
        return take_turns((self._action_tasks(action, abort, batches) for action in actions), workers)

    def _action_tasks(self, action: Action, abort: threading.Event, batches: list[Batch]) -> Iterator[Task]:
        src = self._source(action)
        rel = action.target.as_posix()
        dst = f"{self.packpath}/{rel}"
        transfer = self._transfer_for(action)
        if not action.is_tree:
            if self._joined:
                self._record_if_joined(rel)
            yield partial(self._transfer_files, transfer, src, dst, rel, (("", action.size),), abort)
            return
        files = action.files
        batch = self._batch_for(transfer)
        if batch is not None:
            batches.extend(self._batches(action, batch, src, dst, rel))
            return
        start, size = 0, 0
        for n, (_, file_size) in enumerate(files):
            size += file_size
            if n + 1 - start >= _CHUNK_FILES or size >= _CHUNK_BYTES:
                yield partial(self._transfer_files, transfer, src, dst, rel, files[start:n + 1], abort)
                start, size = n + 1, 0
        if start < len(files):
            yield partial(self._transfer_files, transfer, src, dst, rel, files[start:], abort)

    def _transfer_files(self, transfer: Transfer, src: str, dst: str, rel: str,
                        files: Sequence[tuple[str, int]], abort: threading.Event) -> Done:
        done: Done = []
        nbytes = 0
        for name, size in files:
            if abort.is_set():
                break
            path = f"{rel}/{name}" if name else rel
            source = f"{src}/{name}" if name else src
            md5, read = self._transfer_steady(transfer, source, f"{dst}/{name}" if name else dst)
            if read is not None and read != size:  # changed between the scan and the copy: the copy is what holds
                self.changed.append(f"{source} ({size} bytes when scanned, {read} when copied)")
            done.append((path, size if read is None else read, md5))
            nbytes += size
        self.progress.advance(len(done), nbytes)
        return done

    def _transfer_steady(self, transfer: Transfer, source: str, target: str) -> tuple[str | None, int | None]:
        """Transfer once; a source that changed while it was read is copied once more, then refused."""
        try:
            return transfer(source, target)
        except SourceChanged:
            pass
        try:
            result = transfer(source, target)
        except SourceChanged:
            raise ExecutionError(f"{source} kept changing while it was copied (twice); stopped: package it when "
                                 f"nothing writes to it any more. The partial package is marked by "
                                 f"{self.packpath / MARKER} and the next run rolls it back") from None
        self.changed.append(f"{source} (changed while it was copied; copied again)")
        return result

    def _run_jobs(self) -> None:
        plan = self.plan
        transfers = [a for a in plan.actions if a.op is Op.TRANSFER]
        self.progress.start(f"{plan.mode.value}: {plan.packname}", sum(a.size for a in transfers),
                            sum(len(a.files) for a in transfers))
        self._make_folders(transfers)
        entries = self.result.entries
        abort = threading.Event()
        batches: list[Batch] = []
        workers = THREADS.get(plan.mode, 1)
        for done in run_tasks(self._tasks(abort, batches, workers), workers, abort):
            if isinstance(done, Planned):
                self.result.planned.append(done)
                continue
            for rel, size, md5 in done:
                entries[rel] = (size, md5)
        self._link_batches(batches, abort)
        if plan.mode in (Mode.COPY, Mode.MANIMGONLY):
            for action in transfers:
                self._copy_dir_times(action)
        self.progress.finish()

    def _link_batches(self, batches: Sequence[Batch], abort: threading.Event) -> None:
        """Make the folders' links: with a forked helper when there are many, else on threads."""
        planned = self.result.planned
        if sum(len(batch.files) for batch in batches) < HELPER_FILES or not hasattr(os, "fork"):
            tasks = (partial(self._transfer_batch, *batch, abort) for batch in batches)
            planned.extend(done for done in run_tasks(tasks, THREADS.get(self.plan.mode, 1), abort)
                           if isinstance(done, Planned))
            return
        theirs = set(share([len(batch.files) for batch in batches]))
        pieces = [piece for index in sorted(theirs) for piece in self._pieces(batches[index])]
        helper = LinkHelper([job for job, _ in pieces])
        try:
            for index, batch in enumerate(batches):
                if index not in theirs:
                    planned.append(self._transfer_batch(*batch, abort))
                    self._linked_by_helper(pieces, helper.poll())
            self._linked_by_helper(pieces, helper.wait())
        except BaseException:
            helper.kill()
            raise
        if helper.lost:  # links are not made twice: which of its folder's names it made is unknown
            raise ExecutionError(f"{helper.lost}; the partial package is marked by {self.packpath / MARKER} and the "
                                 "next run rolls it back")
        for number, linked in helper.left():  # what the helper left, on the ordinary path
            batch = pieces[number][1]
            if linked:
                self._credit(batch._replace(files=batch.files[:linked]))
            planned.append(self._transfer_batch(*batch._replace(files=batch.files[linked:]), abort))

    def _pieces(self, batch: Batch) -> Iterator[tuple[LinkJob, Batch]]:
        """Split a batch into the helper's jobs: one per folder, or per shared empty file (fake)."""
        names = [name for name, _ in batch.files]
        if batch.transfer is hard_link_names:
            yield LinkJob(batch.src, "", batch.dst, names), batch
            return
        done = 0
        while done < len(names):
            empty, granted = self.empty.reserve(len(names) - done, HELPER_LANE)
            yield LinkJob("", empty, batch.dst, names[done:done + granted]), \
                batch._replace(files=batch.files[done:done + granted])
            done += granted

    def _linked_by_helper(self, pieces: Sequence[tuple[LinkJob, Batch]], reports: Iterable[Report]) -> None:
        for report in reports:
            if report.complete:
                self._credit(pieces[report.job][1])

    def _credit(self, batch: Batch) -> None:
        self.progress.advance(len(batch.files), sum(size for _, size in batch.files))
        self.result.planned.append(Planned(batch.rel, batch.files))

    def _record_created(self, rel: str) -> None:
        if self.journal is not None:
            self.journal.created(rel)

    def move_file(self, src_text: str, dst_text: str) -> tuple[str | None, int | None]:
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
        return NOT_READ

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
            if self._joined:
                self._record_if_joined(action.target.as_posix())
            if fake:
                fake_file("", dst)
                self.result.entries[action.target.as_posix()] = (action.size, None)
                continue
            import tarfile  # only packages with --gzip-caltables need it: the others start sooner without

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
        tar.add(src, arc, recursive=False)
        if part.is_tree:  # its folders and files, each folder before what it holds
            for inner in sorted([*part.dirs, *(f for f, _ in part.files)]):
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
            write_atomic(dst, data)
            md5 = None
            if self.plan.mode is Mode.COPY or self.plan.checksums:
                digest = new_md5()
                digest.update(data)
                md5 = digest.hexdigest()
            self.result.entries[action.target.as_posix()] = (len(data), md5)

    def _checksums(self) -> None:
        if not self.plan.checksums or self.plan.mode not in (Mode.HARD, Mode.MOVE):
            return
        self.result.absorb_planned()
        entries = self.result.entries
        todo = [(rel, self._abs(rel)) for rel, (_, md5) in entries.items() if md5 is None]
        try:
            for rel, (md5, size) in hash_files_steady(todo, workers=2).items():
                if size != entries[rel][0]:
                    self.changed.append(f"{self._abs(rel)} ({entries[rel][0]} bytes when scanned, {size} when hashed)")
                entries[rel] = (size, md5)
        except SourceChanged as exc:
            raise ExecutionError(f"{exc.path} kept changing while its checksum was computed (twice); stopped: "
                                 "package it when nothing writes to it any more. The partial package is marked by "
                                 f"{self.packpath / MARKER} and the next run rolls it back") from None

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
        planned = self.result.planned
        self.result.files = len(self.result.entries) + sum(len(batch.files) for batch in planned)
        self.result.nbytes = (sum(size for size, _ in self.result.entries.values())
                              + sum(sum(map(itemgetter(1), batch.files)) for batch in planned))
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
