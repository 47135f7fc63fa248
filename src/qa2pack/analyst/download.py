"""Download an SB's raw data from the page where the archive offers it, resuming, and check every md5.

The page (an HTTP directory listing or any page with links) names the ASDM tars
(``uid___A002_X4sda4d_Xa12.tar``, ``<Project>_uid___....asdm.sdm.tar``) and ``md5sums.txt``.
Each file is written to ``<name>.part`` and renamed when whole; a transfer that drops is resumed
where it stopped (an HTTP range request), a few times; a file already there is not fetched again.
Every tar's md5 is compared with ``md5sums.txt``; one that differs is renamed
``<name>.md5-mismatch`` (so the next run fetches it afresh) and reported.  The good tars are
unpacked safely beside them, as the ASDMs the workspace starts from.  Python's own HTTP client
(``urllib``) does the transfers; nothing runs a shell.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from ..core.errors import ExecutionError, InputError, note_writing
from ..core.naming import named_folder
from ..core.record import field, record
from ..formats.manifest import md5_file, parse_md5sum
from ..restore.unpack import first_member, unpack_archive
from ..run.lock import RunLock, Want
from ..run.progress import Progress, SilentProgress

log = logging.getLogger(__name__)

MD5SUMS = "md5sums.txt"
CHUNK = 1 << 20
ATTEMPTS = 5  # per file: the first try and four resumptions
TIMEOUT = 60.0  # seconds without a byte before a transfer counts as dropped
_DROPPED = (http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError, socket.timeout,
            urllib.error.URLError, TimeoutError)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href" and value]


def raw_data_links(page: str, base: str) -> dict[str, str]:
    """Return {file name: address} of the ASDM tars and ``md5sums.txt`` a page links to."""
    parser = _Links()
    parser.feed(page)
    found: dict[str, str] = {}
    for href in parser.hrefs:
        address = urllib.parse.urljoin(base, href)
        name = urllib.parse.unquote(urllib.parse.urlparse(address).path.rsplit("/", 1)[-1])
        if name == MD5SUMS or (name.endswith(".tar") and "uid___" in name):
            found.setdefault(name, address)
    return found


@record(frozen=False)
class DownloadReport:
    """What ``workspace download`` fetched, resumed, checked and unpacked."""

    folder: Path
    fetched: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # there already, not fetched again
    resumed: dict[str, int] = field(default_factory=dict)  # name -> times a dropped transfer was resumed
    checked: list[str] = field(default_factory=list)  # md5 as md5sums.txt says
    failed: dict[str, str] = field(default_factory=dict)  # name -> what was wrong
    unpacked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every file arrived whole with the md5 md5sums.txt gives."""
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        """Return the report as plain JSON (``workspace download --json``)."""
        return {"folder": str(self.folder), "ok": self.ok, "fetched": self.fetched, "kept": self.kept,
                "resumed": self.resumed, "checked": self.checked, "failed": self.failed, "unpacked": self.unpacked}


def _open(address: str, start: int = 0) -> Any:
    request = urllib.request.Request(address, headers={"User-Agent": "qa2pack"})  # noqa: S310 - http(s) only
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 - http(s) only, checked by the caller


def _fetch(address: str, target: Path, progress: Progress) -> int:
    """Fetch one file to ``target`` through ``<target>.part``; return how many times it was resumed."""
    partial = target.with_name(target.name + ".part")
    resumed = 0
    for attempt in range(ATTEMPTS):
        have = partial.stat().st_size if partial.exists() else 0
        try:
            with _open(address, have) as response:
                if have and response.status != 206:  # the server ignored the range: start again
                    have = 0
                with open(partial, "ab" if have else "wb") as out:
                    while True:
                        chunk = response.read(CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        progress.advance(nbytes=len(chunk))
                expected = response.headers.get("Content-Length")
            if expected is not None and partial.stat().st_size != have + int(expected):
                raise http.client.IncompleteRead(b"", int(expected))
            partial.replace(target)
            return resumed
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and partial.exists():  # the range starts at the end: the file is whole
                partial.replace(target)
                return resumed
            raise ExecutionError(f"{address}: the server answered {exc.code} {exc.reason}") from None
        except _DROPPED as exc:
            if attempt == ATTEMPTS - 1:
                raise ExecutionError(f"{target.name}: the transfer dropped {ATTEMPTS} times ({exc}); run again to "
                                     f"resume it from {partial.name}") from None
            resumed += 1
            log.warning("%s: the transfer dropped (%s); resuming at byte %d", target.name, exc,
                        partial.stat().st_size if partial.exists() else 0)
            time.sleep(min(2.0 ** attempt, 10.0) / 10)
    raise AssertionError("unreachable")  # pragma: no cover


def download(url: str, folder: Path, progress: Progress | None = None, wait: bool = False) -> DownloadReport:
    """Fetch the raw data an archive page offers into ``folder``, check them, unpack the good tars."""
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise InputError(f"not an http(s) address: {url}")
    folder = named_folder(folder)
    try:
        with _open(url) as response:
            page = response.read().decode(response.headers.get_content_charset() or "utf-8", "replace")
    except (urllib.error.URLError, *_DROPPED) as exc:
        raise InputError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None
    links = raw_data_links(page, url)
    tars = sorted(name for name in links if name != MD5SUMS)
    if not tars:
        raise InputError(f"{url} links to no ASDM tar (uid___....tar)")
    if MD5SUMS not in links:
        raise InputError(f"{url} links to no {MD5SUMS}: the downloads could not be checked")
    folder.mkdir(parents=True, exist_ok=True)
    with RunLock([Want(folder, exclusive=True, on_folder=True)], "workspace download", wait, on_wait=log.warning):
        return _download(links, tars, folder, progress or SilentProgress())


def _download(links: dict[str, str], tars: list[str], folder: Path, progress: Progress) -> DownloadReport:
    report = DownloadReport(folder)
    note_writing(str(folder))
    _fetch(links[MD5SUMS], folder / MD5SUMS, SilentProgress())
    sums = parse_md5sum((folder / MD5SUMS).read_text(encoding="utf-8", errors="replace"))
    progress.start("downloading", 0, len(tars))
    for name in tars:
        target = folder / name
        if target.exists():
            report.kept.append(name)
        else:
            resumed = _fetch(links[name], target, progress)
            report.fetched.append(name)
            if resumed:
                report.resumed[name] = resumed
        progress.advance(files=1)
    progress.finish()
    for name in tars:
        expected = sums.get(name)
        if expected is None:
            report.failed[name] = f"{MD5SUMS} does not name it"
            continue
        got = md5_file(folder / name)
        if got != expected:
            (folder / name).replace(folder / f"{name}.md5-mismatch")
            report.failed[name] = f"md5 {got}, {MD5SUMS} says {expected} (kept as {name}.md5-mismatch)"
            continue
        report.checked.append(name)
        top = first_member(folder / name).split("/", 1)[0]
        if os.path.lexists(folder / top):
            continue  # unpacked by an earlier run
        unpack_archive(folder / name, folder)
        report.unpacked.append(top)
    return report
