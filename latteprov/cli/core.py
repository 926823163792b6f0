"""The questions: lineage, downstream, path, show, find, status, invalidate/revalidate,
schema and the named queries. Each command parses its options, calls the library and
renders through :mod:`latteprov.cli.output`."""
from __future__ import annotations

import getpass

import click

from latteprov import find as finder
from latteprov import invalidate as invalidation
from latteprov import lineage as lineage_lib
from latteprov import queries as named_queries
from latteprov import schema_doc
from latteprov import status as status_lib
from latteprov import tally as tally_lib
from latteprov.cli.context import AppContext, pass_app
from latteprov.cli.output import (DOCUMENT, GRAPH, TABULAR, console, details_view, emit, emit_graph, emit_nodes,
                                  emit_one, format_option, impact_view, outcome_view, status_table, to_json)

depth_option = click.option("--depth", type=click.IntRange(0), default=None,
                            help="Only nodes at most this many DERIVED_FROM hops away.")
kind_option = click.option("--kind", "kinds", multiple=True, metavar="KIND",
                           help="Only nodes of this kind (or its subclasses); repeatable.")
by_option = click.option("--by", default=getpass.getuser, show_default="current user", help="Who does it.")
reason_option = click.option("--reason", required=True, help="Why (recorded on the event).")


from_list_option = click.option(
    "--from-list", "from_list", type=click.File("r"), metavar="FILE",
    help="Ask about every ID listed in FILE, one per line ('-' for stdin), in batched queries "
         "(instead of ID). JSON: one array of answers; other formats: each answer in turn.")
fields_option = click.option(
    "--fields", default=None, metavar="F,F...",
    help="Lean listing: each node's uid, name, kind, state and valid, plus only these properties "
         "(e.g. uid,name,kind,valid,state or ensemble,config); default: every property.")


def _idents(ident: str | None, from_list) -> list[str]:
    """The IDs asked about: ID, or the lines of --from-list (not both, not neither)."""
    if (ident is None) == (from_list is None):
        raise click.UsageError("give ID or --from-list FILE (one of them)")
    if from_list is None:
        return [ident]
    idents = [line.strip() for line in from_list.read().splitlines() if line.strip()]
    if not idents:
        raise click.UsageError(f"--from-list {from_list.name}: no IDs in it")
    return idents


def _fields(text: str | None) -> list[str] | None:
    return None if text is None else [f for f in text.split(",") if f.strip()]


def _emit_graphs(answers: list[dict], fmt: str, listed: bool, downward: bool = False) -> None:
    if listed and fmt == "json":
        click.echo(to_json(answers))
        return
    for answer in answers:
        emit_graph(answer, fmt, downward=downward)


@click.command()
@click.argument("ident", metavar="[ID]", required=False)
@depth_option
@kind_option
@fields_option
@from_list_option
@format_option(GRAPH, default="tree")
@pass_app
def lineage(app: AppContext, ident: str | None, depth: int | None, kinds: tuple[str, ...], fields: str | None,
            from_list, fmt: str) -> None:
    """Everything ID (uid or name) was derived from, with the runs that made it."""
    idents = _idents(ident, from_list)
    answers = lineage_lib.lineage_many(app.store, idents, depth, kinds, _fields(fields))
    _emit_graphs(answers, fmt, from_list is not None)


@click.command()
@click.argument("ident", metavar="[ID]", required=False)
@depth_option
@kind_option
@click.option("--all", "all_nodes", is_flag=True,
              help=f"List every node even past {lineage_lib.FANOUT_LIMIT} (default: the nearest, plus counts by kind).")
@fields_option
@from_list_option
@format_option(GRAPH, default="tree")
@pass_app
def downstream(app: AppContext, ident: str | None, depth: int | None, kinds: tuple[str, ...], all_nodes: bool,
               fields: str | None, from_list, fmt: str) -> None:
    """Everything derived from ID (uid or name), transitively."""
    idents = _idents(ident, from_list)
    answers = lineage_lib.downstream_many(app.store, idents, depth, kinds, all_nodes, _fields(fields))
    _emit_graphs(answers, fmt, from_list is not None, downward=True)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@format_option(GRAPH, default="tree")
@pass_app
def path(app: AppContext, a: str, b: str, fmt: str) -> None:
    """How B feeds A: the DERIVED_FROM paths from product A down to its input B."""
    emit_graph(lineage_lib.path(app.store, a, b), fmt)


@click.command()
@click.argument("ident", metavar="[ID]", required=False)
@from_list_option
@format_option(DOCUMENT)
@pass_app
def show(app: AppContext, ident: str | None, from_list, fmt: str) -> None:
    """One node: all properties, inputs, number of derivatives, files, runs and invalidations."""
    answers = lineage_lib.details_many(app.store, _idents(ident, from_list))
    if from_list is not None and fmt == "json":
        click.echo(to_json(answers))
        return
    for answer in answers:
        emit_one(answer, fmt, details_view)


@click.command()
@click.argument("kind")
@click.argument("filters", nargs=-1, metavar="[FILTER]...")
@click.option("--order-by", default=None, metavar="PROPERTY", help="Sort by this property (default: name).")
@click.option("--desc", "descending", is_flag=True, help="Sort descending.")
@click.option("--limit", type=click.IntRange(0), default=None, help="At most this many rows.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, help="Skip this many rows first.")
@click.option("--columns", default=None, metavar="COL,COL...|all",
              help="Columns to show (JSON keeps only these too); 'all' for every one. Default: in a table, the "
                   "name, the key fields that differ between the rows, state and validity (the fields all rows "
                   "share are in the title); in JSON and CSV, everything.")
@format_option(TABULAR)
@pass_app
def find(app: AppContext, kind: str, filters: tuple[str, ...], order_by: str | None, descending: bool,
         limit: int | None, offset: int, columns: str | None, fmt: str) -> None:
    """Nodes of KIND matching every FILTER: PROPERTY OP VALUE, OP one of = != < <= > >= ~ (contains).

    A list property (file_statuses) matches with = when it has the item, != when it has not,
    ~ when an item contains the text.

    Example: latteprov find OneToAll 'x>3' ensemble=a09m310 name~x3y3 --columns name,x,y,z,t
    """
    cls = finder.searchable(kind)
    wanted = None if columns in (None, "all") else finder.check_columns(cls, [c.strip() for c in columns.split(",") if c.strip()])
    nodes = finder.find(app.store, kind, finder.parse_filters(filters), order_by, descending, limit, offset)
    if wanted is None and columns is None and fmt == "table":
        wanted, shared = finder.default_columns(cls, nodes)
        caption = f"{len(nodes)} {cls.__name__}" + (f"; all with {', '.join(f'{k}={v}' for k, v in shared.items())}"
                                                     if shared else "")
        emit_nodes(nodes, fmt, wanted, caption)
        return
    emit_nodes(nodes, fmt, wanted)


@click.command()
@click.option("--ensemble", default=None, metavar="TAG", help="Only this ensemble.")
@click.option("--recount", is_flag=True, help="Rebuild the tallies from a full scan first.")
@format_option(DOCUMENT)
@pass_app
def status(app: AppContext, ensemble: str | None, recount: bool, fmt: str) -> None:
    """Completion per ensemble and kind: states, invalid products, files by status.

    Read from counters the writes keep up to date; on a store whose counters were never
    built (written by an older latteprov, or loaded by neo4j-admin import) the entities are
    counted one by one, with a note on stderr, until --recount or 'latteprov init' builds them.
    """
    if recount:
        tally_lib.recount(app.store)
    rows, from_tallies = status_lib.report(app.store, ensemble)
    if not from_tallies:
        click.echo("note: counted by a full scan (no tallies yet; 'latteprov status --recount' builds them)",
                   err=True)
    emit(rows, fmt, status_lib.COLUMNS, human=status_table)


@click.command()
@click.argument("ident", metavar="ID")
@reason_option
@by_option
@click.option("--dry-run", is_flag=True, help="Only show what would be marked.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@format_option(DOCUMENT)
@pass_app
def invalidate(app: AppContext, ident: str, reason: str, by: str, dry_run: bool, yes: bool, fmt: str) -> None:
    """Mark ID and everything derived from it invalid, recorded with who, when and why.

    --dry-run prints the impact (counts by kind and ensemble; with --format json the list of
    uids too). Otherwise the impact is shown on stderr and confirmed unless --yes; the
    output is the event with the counts (and, in JSON, the impact). Nothing is deleted.
    """
    impact = invalidation.impact(app.store, ident, with_uids=dry_run and fmt == "json")
    if dry_run:
        emit_one(impact, fmt, lambda value: impact_view(value, dry_run=True))
        return
    if not yes:
        console(stderr=True).print(impact_view(impact))
        click.confirm(f"invalidate these {impact['total']} entities?", abort=True, err=True)
    emit_one({**invalidation.invalidate(app.store, ident, reason, by), "impact": impact}, fmt, outcome_view)


@click.command()
@click.argument("ident", metavar="ID")
@reason_option
@by_option
@format_option(DOCUMENT)
@pass_app
def revalidate(app: AppContext, ident: str, reason: str, by: str, fmt: str) -> None:
    """Undo the invalidation of ID (recorded too); what another invalidation covers stays invalid."""
    emit_one(invalidation.revalidate(app.store, ident, reason, by), fmt, outcome_view)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True,
              help="Output format.")
def schema(fmt: str) -> None:
    """The graph model: every class, property (type, help) and relationship."""
    click.echo(schema_doc.markdown() if fmt == "md" else to_json(schema_doc.describe()), nl=fmt == "json")


@click.command()
@format_option(TABULAR)
def queries(fmt: str) -> None:
    """The named Cypher queries of latteprov/cypher/: name, parameters, where, what they return."""
    emit([{"name": q.name, "params": ", ".join(sorted(q.params)), "origin": q.origin, "doc": q.doc}
          for q in named_queries.all_queries().values()], fmt, ("name", "params", "origin", "doc"))


COMMANDS: list[click.Command] = [lineage, downstream, path, show, find, status, invalidate, revalidate,
                                 schema, queries]
