"""``latteprov scan`` over many files: how long refreshing 100,000 DataFiles takes.

Creates N files (empty, or sparse at a fraction of their expected size) in a temporary
directory, records a DataFile for each plus a tenth that do not exist (half of them on a tape
listing), then times :func:`latteprov.ingest.scan.scan` over the directory.

    python -m benchmarks.scan_files              # 100,000 files
    python -m benchmarks.scan_files -n 10000

Without ``NEO4J_URI`` a throwaway server is started (temporary home, free port, no auth).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.server import empty_store
from latteprov import graph
from latteprov.graph import GraphBatch
from latteprov.ingest import datafiles
from latteprov.ingest.scan import scan
from latteprov.store import Store, chunks

EXPECTED = 267_744  # a complete a09m310 spectrum file


def make_files(folder: Path, count: int) -> list[Path]:
    """``count`` files: nine in ten sparse at full size, one in ten half-written."""
    paths = []
    for i in range(count):
        path = folder / f"spec_a09m310_e_{i}_x0y0z0t0.h5"
        with open(path, "wb") as fh:
            fh.truncate(EXPECTED if i % 10 else EXPECTED // 2)
        paths.append(path)
    return paths


def register(store: Store, paths: list[Path], host: str) -> None:
    """A DataFile per path, 10,000 per transaction."""
    for part in chunks(paths, 10_000):
        batch = GraphBatch()
        for path in part:
            batch.add_file(None, str(path), host=host, expected_size=EXPECTED)
        graph.write(store, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--files", type=int, default=100_000)
    args = parser.parse_args()
    with empty_store() as store, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        present = make_files(folder, args.files)
        absent = [folder / f"prop_gone_{i}.lime" for i in range(args.files // 10)]
        listing = folder / "hsi.txt"
        listing.write_text("".join(f"-rw-r----- 1 u g 1 Jan 1 00:00 {p.name}\n" for p in absent[::2]))
        register(store, present + absent, datafiles.host())
        prepared = time.perf_counter() - started
        report = scan(store, [str(folder)], tape_listing=listing)
        total = len(present) + len(absent)
        print(f"prepared {total:,} files and DataFiles in {prepared:.1f} s")
        print(f"scanned {report.files:,} files in {report.seconds:.1f} s = {report.files / report.seconds:,.0f} files/s")
        print("statuses: " + ", ".join(f"{n:,} {s}" for s, n in sorted(report.counts.items())))
        store.clear()

if __name__ == "__main__":
    main()
