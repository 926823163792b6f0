"""The docs cannot drift: docs/model.md is the generated schema, docs/cli.md covers every
registered command (regenerate both with ``python -m latteprov.cli.docgen``)."""
from __future__ import annotations

import pytest

from latteprov.cli import docgen, main
from latteprov.schema_doc import markdown

COMMANDS = [path for path, _, _ in docgen.walk(main)]


def test_model_md_is_the_generated_schema() -> None:
    assert (docgen.DOCS / "model.md").read_text(encoding="utf-8") == markdown(), \
        "docs/model.md is stale: run python -m latteprov.cli.docgen"


@pytest.mark.parametrize("command", COMMANDS)
def test_cli_md_documents_every_command(command: str) -> None:
    text = (docgen.DOCS / "cli.md").read_text(encoding="utf-8")
    assert f"### `{command}`\n" in text, f"docs/cli.md lacks {command}: run python -m latteprov.cli.docgen"


def test_the_walk_reaches_nested_commands() -> None:
    assert {"latteprov", "latteprov lineage", "latteprov db start"} <= set(COMMANDS)


def test_reference_block_is_replaced_not_duplicated() -> None:
    once = docgen.replace_block("intro\n", "reference", "A\n")
    twice = docgen.replace_block(once, "reference", "B\n")
    assert twice.count("BEGIN GENERATED reference") == 1 and "B\n" in twice and "A\n" not in twice
    assert twice.startswith("intro\n")


def test_docgen_check_reports_staleness(tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    monkeypatch.setattr(docgen, "DOCS", tmp_path)
    runner = CliRunner()
    stale = runner.invoke(docgen.docgen, ["--check"])
    assert stale.exit_code == 1 and "model.md" in stale.output and not (tmp_path / "model.md").exists()
    assert runner.invoke(docgen.docgen, []).exit_code == 0
    assert runner.invoke(docgen.docgen, ["--check"]).exit_code == 0
    assert "### `latteprov find`" in (tmp_path / "cli.md").read_text()


def test_the_link_rules_table_of_architecture_md_is_the_code_s() -> None:
    from latteprov.rows import LINK_RULES

    text = (docgen.DOCS / "architecture.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    documented = {line.split("|")[1].strip(" `"): [c.strip() for c in line.split("|")[2:6]] for line in rows}
    assert documented == {t: [r.source, r.target, "yes" if r.role else "no", r.meaning] for t, r in LINK_RULES.items()}
