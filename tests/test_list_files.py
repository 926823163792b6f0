"""Lists the CLI reads (``--from-list`` of ingest names, lineage, downstream and show, names on
stdin, ``--ensemble-map``, ``--expected-sizes``): split on ``\\n`` only, whatever other line
breaks a POSIX path holds, and a line that is not UTF-8 is one line naming the file and the
line, never a traceback."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from latteprov.cli import main
from latteprov.errors import InputError
from latteprov.listfile import split_lines

# Every character str.splitlines() breaks on but '\n'.
OTHER_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)))
                .filter(bool), max_size=8),
       st.sampled_from(["", "\n"]))
def test_lines_are_split_on_newline_only(names: list[str], end: str) -> None:
    assert split_lines(("\n".join(names) + (end if names else "")).encode(), "f") == names


@given(st.integers(0, 5), st.binary(min_size=1).filter(lambda b: b"\n" not in b and _not_utf8(b)))
def test_the_first_line_that_is_not_utf8_is_named(before: int, bad: bytes) -> None:
    data = b"good\n" * before + bad + b"\nalso good\n"
    with pytest.raises(InputError, match=rf"^f.txt: line {before + 1} is not UTF-8$"):
        split_lines(data, "f.txt")


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _readers(listed: Path) -> list[tuple[list[str], bytes | None]]:
    """Each way the CLI reads a list: its arguments and what stdin holds."""
    return [(["ingest", "names", "--from-list", str(listed)], None),
            (["ingest", "names", "--initial", "--from-list", str(listed)], None),
            (["ingest", "names", "--dry-run", "-"], listed.read_bytes()),
            (["lineage", "--from-list", str(listed)], None),
            (["downstream", "--from-list", str(listed)], None),
            (["show", "--from-list", str(listed)], None),
            (["lineage", "--from-list", "-"], listed.read_bytes()),
            (["ingest", "names", "--ensemble-map", str(listed), "x"], None),
            (["scan", "--expected-sizes", str(listed)], None)]


def test_a_list_line_that_is_not_utf8_is_one_line_naming_file_and_line(store, env, tmp_path: Path) -> None:
    listed = tmp_path / "bad8.txt"
    listed.write_bytes(b"a09m310 l3296f211b630m0074m037m440\n" * 5 + b"prop_\xff\xfe.lime\n")
    runner = CliRunner(env=env)
    for args, stdin in _readers(listed):
        result = runner.invoke(main, args, input=stdin, catch_exceptions=False)
        source = "<stdin>" if stdin is not None else str(listed)
        assert result.exit_code != 0 and result.output.count("\n") == 1, (args, result.output)
        assert f"{source}: line 6 is not UTF-8" in result.output, (args, result.output)


def test_other_line_breaks_stay_inside_a_name_or_id(store, env, tmp_path: Path) -> None:
    names = [f"prop_m{c}n_e_300.lime" for c in OTHER_BREAKS]
    listed = tmp_path / "names.txt"
    listed.write_text("\n".join(names) + "\n", encoding="utf-8")
    runner = CliRunner(env=env)
    dry = runner.invoke(main, ["ingest", "names", "--dry-run", "--from-list", str(listed)], catch_exceptions=False)
    assert f"dry run: {len(names)} names" in dry.output, dry.output
    for command in ("lineage", "downstream", "show"):
        asked = runner.invoke(main, [command, "--from-list", str(listed)], catch_exceptions=False)
        assert asked.exit_code != 0 and repr(names[0]) in asked.output, asked.output  # the first, whole


def test_a_huge_name_or_id_is_echoed_shortened(store, env, tmp_path: Path) -> None:
    """Whatever echoes a user's value back (a name that fits no template, a problem name, an ID
    that names nothing, on the command line or in a list) prints its first 200 characters."""
    huge = "x" * 2_000_000
    problem = "l9999f211b630m0074m037m440e." + "3" * 2_000_000  # an unknown MILC long tag
    runner = CliRunner(env=env)
    for value in (huge, problem):
        listed = tmp_path / "huge.txt"
        listed.write_text(value + "\n")
        for args in (["ingest", "names", "--from-list", str(listed)], ["ingest", "names", "--dry-run", str(listed)],
                     ["ingest", "names", "--initial", "--from-list", str(listed)],
                     ["lineage", "--from-list", str(listed)], ["downstream", "--from-list", str(listed)],
                     ["show", "--from-list", str(listed)], ["lineage", value], ["show", value],
                     ["path", value, value]):
            result = runner.invoke(main, args, catch_exceptions=False)
            assert len(result.output) < 3000, (args[:3], result.output[:300])
