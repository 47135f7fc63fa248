"""Check a plan against the disk before the first byte is written; report every problem at once."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..core.errors import CrossDeviceError, PreflightError
from ..core.model import Action, Mode, Op, Plan
from .progress import human_bytes

# Room kept free beyond the package itself: manifest, ticket, log and file-system slack.
_MARGIN = 16 * 1024 * 1024


def existing_ancestor(path: Path) -> Path:
    """Return ``path`` or its nearest ancestor that exists (where new folders will be made)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def bytes_to_write(plan: Plan) -> int:
    """Return the bytes the run writes as new data (hard links, moves and fakes write none)."""
    copies = plan.mode in (Mode.COPY, Mode.MANIMGONLY)
    archives = plan.mode not in (Mode.FAKE, Mode.TICKET)

    def writes(action: Action) -> bool:
        if action.op is Op.TEXT:
            return True
        if action.op is Op.ARCHIVE:
            return archives
        return copies or action.origin_root is not None  # external files are always copied

    return sum(action.size for action in plan.actions if writes(action))


def _trial_folder(packpath: Path) -> Path:
    """Return where the trial links go: never inside packpath, which another run may be writing.

    That run lists packpath and removes what it finds there; a trial link that came and went
    in between made it fail.  Only where packpath is a mount point of its own is it used.
    """
    anchor = existing_ancestor(packpath)
    if anchor == packpath and anchor.parent != anchor and os.stat(anchor.parent).st_dev == os.stat(anchor).st_dev:
        return anchor.parent
    return anchor


def _link_refusals(plan: Plan, folder: Path) -> list[str]:
    """Try one hard link per owner (and device) of origpath's files, as the run will make them.

    The kernel refuses hard links to files the user neither owns nor may write, where
    ``fs.protected_hardlinks`` is set (the default on most Linux systems): found here, before
    anything is written, rather than halfway through the package.
    """
    problems = []
    trial = folder / f".qa2pack-link-trial-{os.getpid()}"
    for sample in plan.owner_samples:
        try:
            os.link(sample, trial)
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                problems.append(str(CrossDeviceError(Path(sample), folder, plan.mode.value)))
            elif exc.errno in (errno.EPERM, errno.EACCES):
                owner = _owner_name(sample)
                problems.append(f"cannot hard-link {sample} (owned by {owner}): the system refuses hard links to "
                                "files you do not own (protected hard links); package with --mode copy, or as "
                                f"{owner}")
            else:
                problems.append(f"cannot hard-link {sample}: {exc.strerror}")
            continue
        os.unlink(trial)
    return problems


def _owner_name(path: str) -> str:
    uid = os.lstat(path).st_uid
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"user {uid}"


def preflight(plan: Plan, packpath: Path) -> None:
    """Raise one error listing every reason the plan cannot be carried out; write nothing."""
    problems: list[str] = []
    anchor = existing_ancestor(packpath)
    if not os.access(anchor, os.W_OK | os.X_OK):
        problems.append(f"cannot write into {anchor}: permission denied")
    links = plan.mode in (Mode.HARD, Mode.MOVE, Mode.TICKET)
    if links and os.stat(plan.origpath).st_dev != os.stat(anchor).st_dev:
        error = CrossDeviceError(plan.origpath, packpath, plan.mode.value)
        if not problems:
            raise error
        problems.append(str(error))
    if plan.mode in (Mode.HARD, Mode.TICKET) and not problems:
        problems += _link_refusals(plan, _trial_folder(packpath))
    needed = bytes_to_write(plan)
    free = shutil.disk_usage(anchor).free
    if needed + _MARGIN > free:
        problems.append(f"not enough free space in {anchor}: the package needs {human_bytes(needed)}, "
                        f"{human_bytes(free)} are free")
    if plan.mode is Mode.MOVE:
        folders = {(plan.origpath / a.source) if a.is_tree else (plan.origpath / a.source).parent
                   for a in plan.actions if a.source and a.origin_root is None}
        locked = sorted(str(f) for f in folders if not os.access(f, os.W_OK | os.X_OK))
        if locked:
            problems.append(f"move mode cannot leave links in {', '.join(locked[:3])}: permission denied")
    if problems:
        raise PreflightError(problems)
