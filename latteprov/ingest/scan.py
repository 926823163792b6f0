"""``scan``: refresh each DataFile's status from the file system and a tape listing.

Status per file: ``on_disk`` (present, not smaller than expected), ``wrong_size`` (present but
smaller than its expected size: a job killed mid-write), ``on_tape`` (absent from disk, named
in the ``hsi ls`` listing), ``missing`` (neither), ``unknown`` (the file system would not say,
e.g. permission denied). Updates go to the graph in ``UNWIND`` batches.
"""
from __future__ import annotations

import errno
import fnmatch
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from latteprov import listfile, queries, tally
from latteprov.errors import InputError, shorten
from latteprov.ingest import datafiles
from latteprov.store import DEFAULT_BATCH, Store, chunks


@dataclass
class ScanReport:
    """What a scan found."""

    files: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def read_tape_listing(path: str | Path) -> set[str]:
    """File names (basenames) in an ``hsi ls``/``hsi ls -l`` listing: the last word of each line;
    ``DIR:`` header lines and hsi's own chatter are skipped."""
    names = set()
    for line in listfile.read_lines(path, errors="replace"):
        words = line.split()
        if not words or words[-1].endswith(":") or line.startswith(("Username:", "***")):
            continue
        names.add(os.path.basename(words[-1].rstrip("/")))
    return names


def read_expected_sizes(path: str | Path) -> list[tuple[str, int]]:
    """``(pattern, size)`` pairs from lines ``PATTERN SIZE`` (shell patterns on the file name)."""
    rules = []
    for lineno, line in enumerate(listfile.read_lines(path), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2 or not parts[1].isdigit():
            raise InputError(f"{path}:{lineno}: expected 'PATTERN SIZE', got {shorten(line)!r}")
        rules.append((parts[0], int(parts[1])))
    return rules


def status_of(path: str, expected: int | None, on_tape: set[str]) -> tuple[str, os.stat_result | None]:
    """The status of one file and its stat result when it is on disk."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return ("on_tape" if os.path.basename(path) in on_tape else "missing"), None
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ENAMETOOLONG):
            return "missing", None
        return "unknown", None
    if expected is not None and stat.st_size < expected:
        return "wrong_size", stat
    return "on_disk", stat


def scan(store: Store, paths: Iterable[str] = (), *, tape_listing: str | Path | None = None,
         expected_sizes: str | Path | None = None, advance: Callable[[int], None] | None = None,
         batch_size: int = DEFAULT_BATCH) -> ScanReport:
    """Check every DataFile of this host under ``paths`` and record what was found."""
    started = time.perf_counter()
    on_tape = read_tape_listing(tape_listing) if tape_listing else set()
    rules = read_expected_sizes(expected_sizes) if expected_sizes else []
    prefixes = [os.path.abspath(p).rstrip("/") or "/" for p in paths]
    files = store.read("scan_files", host=datafiles.host(), paths=prefixes)
    report = ScanReport(files=len(files))
    seen: dict[str, tuple[str, os.stat_result | None]] = {}  # datasets of one file share its status

    def updates() -> Iterable[dict]:
        checked = datetime.now(timezone.utc)
        for i, f in enumerate(files, 1):
            expected = f["expected_size"]
            if expected is None:
                expected = next((size for pattern, size in rules
                                 if fnmatch.fnmatchcase(os.path.basename(f["path"]), pattern)), None)
            key = f"{f['path']}\0{expected}"
            if key not in seen:
                seen[key] = status_of(f["path"], expected, on_tape)
            status, stat = seen[key]
            report.counts[status] = report.counts.get(status, 0) + 1
            row = {"uid": f["uid"], "status": status, "checked_at": checked, "size": None, "mtime": None}
            if stat is not None:
                row.update(size=stat.st_size, mtime=datetime.fromtimestamp(stat.st_mtime, timezone.utc))
            if advance and i % 1000 == 0:
                advance(1000)
            yield row

    def write(tx: Any, rows: list[dict]) -> None:
        with tally.Tracker(tx, files=[r["uid"] for r in rows]):  # their products' file_statuses change
            queries.run(tx, "update_file_status", rows=rows).consume()

    for rows in chunks(updates(), batch_size):
        store.write_tx(lambda tx, rows=rows: write(tx, rows))
    if advance:
        advance(len(files) % 1000)
    report.seconds = time.perf_counter() - started
    return report
