"""The least a Python program must do for the same job: the floor a Python tool cannot beat.

    python benchmarks/floor.py link SRC DST     walk SRC once, make its folders, hard-link its files
                                                (two processes, each linking whole folders)
    python benchmarks/floor.py md5 SUMS         md5 of the files listed in an md5sum file, two processes,
                                                compared with the listed sums
    python benchmarks/floor.py walk ROOT        list every folder and stat every file (what inspect
                                                must read), nothing else
    python benchmarks/floor.py stream TAR       one md5 over a whole tar, in one stream: what any tool
                                                that writes a tar with its md5 sidecar must hash, on
                                                one core whatever else it overlaps with it

No checks, no plan, no manifest, no README, no lock: ``run.py`` times these beside qa2pack and the
standard tool, so the published table shows how much of a gap is Python itself on that machine.
Both jobs are shared by two processes (a fork), not two threads: threads of one process queue
for the interpreter lock after every link or small file, processes do not.
"""

from __future__ import annotations

import hashlib
import os
import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def link_tree(src: str, dst: str) -> None:
    folders: list[tuple[str, str, list[str]]] = []
    stack = [(src, dst)]
    while stack:
        source, target = stack.pop()
        os.mkdir(target)
        names = []
        with os.scandir(source) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, f"{target}/{entry.name}"))
                else:
                    names.append(entry.name)
        folders.append((source, target, names))

    def link(folder: tuple[str, str, list[str]]) -> None:
        source, target, names = folder
        for name in names:
            os.link(f"{source}/{name}", f"{target}/{name}")

    in_two(folders, link, lambda folder: len(folder[2]))


def in_two(jobs: list[T], work: Callable[[T], object], weight: Callable[[T], int]) -> int:
    """Do the jobs in this process and a forked one, about half the weight each; return failures."""
    mine: list[T] = []
    theirs: list[T] = []
    loads = [0, 0]
    for job in sorted(jobs, key=weight, reverse=True):
        side = 0 if loads[0] <= loads[1] else 1
        (mine, theirs)[side].append(job)
        loads[side] += weight(job)
    pid = os.fork()
    if pid == 0:
        os._exit(min(100, sum(bool(work(job)) for job in theirs)))
    failed = sum(bool(work(job)) for job in mine)
    _, status = os.waitpid(pid, 0)
    return failed + (os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def walk(root: str) -> int:
    files = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    files += 1
    return files


def check_sums(sums: str) -> int:
    with open(sums, encoding="utf-8") as handle:
        listed = [line.rstrip("\n").split("  ", 1) for line in handle if line.strip()]

    def run(chunk: list[list[str]]) -> int:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        bad = 0
        for md5, path in chunk:
            digest = hashlib.md5()
            fd = os.open(path, os.O_RDONLY)
            try:
                while n := os.readv(fd, (buf,)):
                    digest.update(view[:n])
            finally:
                os.close(fd)
            bad += digest.hexdigest() != md5
        return bad

    size = max(1, min(256, len(listed) // 16))
    chunks = [listed[start:start + size] for start in range(0, len(listed), size)]
    if len(listed) > 1024:  # many files: share them by count (a stat each would cost more than it saves)
        return in_two(chunks, run, len)
    return in_two(chunks, run, lambda chunk: sum(os.path.getsize(path) + 32768 for _, path in chunk))


def md5_stream(path: str) -> str:
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    digest = hashlib.md5()
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buf):
            digest.update(view[:n])
    return digest.hexdigest()


if __name__ == "__main__":
    if sys.argv[1] == "link":
        link_tree(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "walk":
        walk(sys.argv[2])
    elif sys.argv[1] == "stream":
        md5_stream(sys.argv[2])
    else:
        sys.exit(1 if check_sums(sys.argv[2]) else 0)
