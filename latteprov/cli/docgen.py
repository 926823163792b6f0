"""Regenerates docs/cli.md and docs/model.md from the code, so the docs cannot drift.

``python -m latteprov.cli.docgen`` rewrites docs/model.md (``latteprov schema --format md``)
and the generated parts of docs/cli.md: the reference of every registered command (its
``--help``, walking groups recursively) and, with ``--examples``, the example outputs, which
are produced by running the commands against the configured database after recording the
demo chain into it (use a throwaway server: the examples invalidate and revalidate). Text
outside the generated blocks is kept. ``--check`` only reports whether the files are stale.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from latteprov import schema_doc

DOCS = Path(__file__).resolve().parents[2] / "docs"
WIDTH = 100
REFERENCE = "reference"
EXAMPLES = "examples"
EXAMPLE_SPEC = "spec_a09m310_e_300_gf1.0_w3.5_n45_M51.1_L56_a1.5_mq0.00951_x3y3z19t62"
EXAMPLE_CFG = "l3296f211b630m0074m037m440e.300"
EXAMPLE_ACTION = "MDWF M5=1.1 L5=6 a=1.5 mq=0.00951"
# (what it shows, the arguments after ``latteprov``); run in this order.
EXAMPLE_COMMANDS: list[tuple[str, list[str]]] = [
    ("Lineage of a 2-pt correlator as a tree", ["lineage", EXAMPLE_SPEC]),
    ("Only the propagators in its lineage, as JSON", ["lineage", EXAMPLE_SPEC, "--kind", "Propagator", "--format", "json"]),
    ("Downstream of a configuration, one hop, as Mermaid", ["downstream", EXAMPLE_CFG, "--depth", "1", "--format", "mermaid"]),
    ("How the configuration feeds the correlator, as DOT", ["path", EXAMPLE_SPEC, EXAMPLE_CFG, "--format", "dot"]),
    ("Finding propagators by origin and ensemble", ["find", "OneToAll", "x<5", "ensemble=a09m310", "--format", "csv"]),
    ("Completion status", ["status", "--format", "json"]),
    ("The impact of invalidating a fermion action", ["invalidate", EXAMPLE_ACTION, "--reason",
                                                     "wrong mass", "--dry-run", "--format", "json"]),
    ("Invalidating it", ["invalidate", EXAMPLE_ACTION, "--reason", "wrong mass", "--by",
                         "alice", "--yes"]),
    ("Status now shows the invalid products", ["status"]),
    ("Undoing it", ["revalidate", EXAMPLE_ACTION, "--reason", "mass was right", "--by", "alice"]),
    ("One node with its neighbourhood", ["show", EXAMPLE_SPEC]),
    ("A bad filter", ["find", "OneToAll", "origin_x>3"]),
]


def walk(command: click.Command, path: str = "latteprov",
         parent: click.Context | None = None) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every command under ``command`` (itself first) with its full name and a context for help."""
    ctx = click.Context(command, info_name=path.split()[-1], parent=parent, terminal_width=WIDTH,
                        max_content_width=WIDTH)
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, f"{path} {name}", ctx)


def reference(main: click.Command) -> str:
    """The reference section: each command's heading and its ``--help`` text."""
    parts = []
    for path, command, ctx in walk(main):
        parts += [f"### `{path}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def examples(main: click.Command) -> str:
    """Each example command with its real output against the configured database."""
    from latteprov import graph
    from latteprov.cli import demo
    from latteprov import schema
    from latteprov.store import Store

    with Store() as store:
        schema.install(store)
        graph.write(store, demo.small_chain()[0])
    runner = CliRunner()
    parts = []
    for title, args in EXAMPLE_COMMANDS:
        result = runner.invoke(main, args, catch_exceptions=False)
        shown = " ".join(f"'{a}'" if (" " in a or "<" in a or ">" in a) else a for a in args)
        parts += [f"#### {title}", "", "```console", f"$ latteprov {shown}", result.output.rstrip(), "```", ""]
    return "\n".join(parts).rstrip() + "\n"


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the generated block ``name`` replaced by ``body`` (appended if absent)."""
    begin, end = f"<!-- BEGIN GENERATED {name}: python -m latteprov.cli.docgen -->", f"<!-- END GENERATED {name} -->"
    block = f"{begin}\n{body}{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def generated(main: click.Command, with_examples: bool) -> dict[Path, str]:
    """The new contents of the generated docs."""
    cli_md = DOCS / "cli.md"
    text = cli_md.read_text(encoding="utf-8") if cli_md.exists() else "# The latteprov command line\n"
    if with_examples:
        text = replace_block(text, EXAMPLES, examples(main))
    text = replace_block(text, REFERENCE, reference(main))
    return {cli_md: text, DOCS / "model.md": schema_doc.markdown()}


@click.command()
@click.option("--check", is_flag=True, help="Only report whether docs/cli.md and docs/model.md are stale.")
@click.option("--examples", "with_examples", is_flag=True,
              help="Also rerun the examples against the configured (throwaway) database.")
def docgen(check: bool, with_examples: bool) -> None:
    """Regenerate docs/cli.md (reference, examples) and docs/model.md."""
    from latteprov.cli import main

    stale = []
    for path, text in generated(main, with_examples).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if not check:
                path.write_text(text, encoding="utf-8")
    verb = "stale" if check else "rewritten"
    for path in stale:
        click.echo(f"{verb}: {path}")
    sys.exit(1 if check and stale else 0)


if __name__ == "__main__":
    docgen()
