"""``scan``: each DataFile's status from the disk, a tape listing and expected sizes."""
from __future__ import annotations

from pathlib import Path

import pytest

from latteprov import graph
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.ingest import datafiles
from latteprov.ingest.scan import read_expected_sizes, read_tape_listing, scan


def register(store, paths: list[Path], **props) -> None:
    batch = GraphBatch()
    for path in paths:
        batch.add_file(None, str(path), host=datafiles.host(), **props)
    graph.write(store, batch)


def statuses(store) -> dict[str, str]:
    rows = store.run_text("MATCH (f:DataFile) RETURN f.path AS p, f.status AS s")
    return {Path(r["p"]).name: r["s"] for r in rows}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "prop_a.lime").write_bytes(b"x" * 100)
    (tmp_path / "prop_half.lime").write_bytes(b"x" * 40)
    (tmp_path / "spec_a.h5").write_bytes(b"x" * 10)
    listing = tmp_path / "hsi.txt"
    listing.write_text(f"{tmp_path}:\n-rw-r----- 1 u g 100 Jan 10 12:00 prop_taped.lime\n")
    sizes = tmp_path / "sizes.txt"
    sizes.write_text("# pattern size\nprop_*.lime 100\n")
    return tmp_path


def test_each_status_is_found(store, files: Path) -> None:
    names = ["prop_a.lime", "prop_half.lime", "spec_a.h5", "prop_taped.lime", "prop_gone.lime"]
    register(store, [files / n for n in names])
    report = scan(store, [str(files)], tape_listing=files / "hsi.txt", expected_sizes=files / "sizes.txt")
    assert statuses(store) == {"prop_a.lime": "on_disk", "prop_half.lime": "wrong_size", "spec_a.h5": "on_disk",
                               "prop_taped.lime": "on_tape", "prop_gone.lime": "missing"}
    assert report.files == 5 and report.counts == {"on_disk": 2, "wrong_size": 1, "on_tape": 1, "missing": 1}
    row = store.run_text("MATCH (f:DataFile {name: 'prop_half.lime'}) RETURN f.size AS s, f.checked_at IS NOT NULL AS c")
    assert row == [{"s": 40, "c": True}]


def test_expected_size_on_the_datafile_wins(store, files: Path) -> None:
    register(store, [files / "spec_a.h5"], expected_size=267_744)
    scan(store, [str(files)])
    assert statuses(store) == {"spec_a.h5": "wrong_size"}


def test_unreadable_directory_gives_unknown(store, files: Path) -> None:
    locked = files / "locked"
    locked.mkdir()
    (locked / "x.h5").write_bytes(b"")
    register(store, [locked / "x.h5"])
    locked.chmod(0)
    try:
        scan(store, [str(files)])
        expected = "on_disk" if __import__("os").geteuid() == 0 else "unknown"  # root reads anything
        assert statuses(store) == {"x.h5": expected}
    finally:
        locked.chmod(0o755)


def test_only_files_under_the_paths_are_scanned(store, files: Path, tmp_path_factory) -> None:
    other = tmp_path_factory.mktemp("other") / "prop_a.lime"
    register(store, [files / "prop_a.lime", other])
    assert scan(store, [str(files)]).files == 1
    assert statuses(store)["prop_a.lime"] in ("on_disk", "unknown")
    assert store.run_text("MATCH (f:DataFile {path: $p}) RETURN f.status AS s", p=str(other)) == [{"s": "unknown"}]


def test_datasets_of_one_file_share_its_status(store, files: Path) -> None:
    batch = GraphBatch()
    for ds in ("a", "b"):
        batch.add_file(None, str(files / "spec_a.h5"), host=datafiles.host(), dataset=ds)
    graph.write(store, batch)
    scan(store, [str(files)])
    assert store.run_text("MATCH (f:DataFile) RETURN collect(DISTINCT f.status) AS s") == [{"s": ["on_disk"]}]


def test_listing_parsers(files: Path) -> None:
    assert read_tape_listing(files / "hsi.txt") == {"prop_taped.lime"}
    assert read_expected_sizes(files / "sizes.txt") == [("prop_*.lime", 100)]
    bad = files / "bad.txt"
    bad.write_text("prop_*.lime lots\n")
    with pytest.raises(InputError, match="bad.txt:1: expected 'PATTERN SIZE'"):
        read_expected_sizes(bad)


def test_cli_scan_reports_counts(cli, store, files: Path) -> None:
    register(store, [files / "prop_a.lime", files / "prop_gone.lime"])
    result = cli("scan", files, "--tape-listing", files / "hsi.txt")
    assert result.exit_code == 0, result.output
    assert "2 files scanned" in result.output and "1 missing" in result.output and "1 on_disk" in result.output
    bad = cli("scan", files, "--expected-sizes", files / "nope.txt")
    assert bad.exit_code != 0 and "does not exist" in bad.output
