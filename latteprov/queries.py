"""Named Cypher queries, loaded from the ``latteprov/cypher/`` directory (installed as ``latteprov.cypher``).

A file holds one or a few queries, each introduced by a header line ``// name: NAME``; the
``//`` comment lines right under it are its description, the rest up to the next header is the
query. Parameters are the ``$names`` used in the text. Duplicate names are refused with the
file and line of both places, so a query is always found by one name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from latteprov.errors import LatteprovError

_HEADER = re.compile(r"^//\s*name:\s*([A-Za-z_][\w-]*)\s*$")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_WRITE_CLAUSE = re.compile(r"\b(CREATE|MERGE|SET|DELETE|REMOVE|FOREACH)\b", re.I)


class QueryError(LatteprovError):
    """A query file is malformed, or a query is unknown or called with the wrong parameters."""


@dataclass(frozen=True)
class Query:
    """One named query: its text, what it does, the parameters it takes, where it lives."""

    name: str
    text: str
    doc: str
    params: frozenset[str]
    origin: str

    def check_params(self, given: dict) -> None:
        """Refuse a call that leaves out a parameter the query uses, or gives one it does not use."""
        missing = self.params - set(given)
        if missing:
            raise QueryError(f"query {self.name} ({self.origin}) needs parameter(s): {', '.join(sorted(missing))}")
        unexpected = set(given) - self.params
        if unexpected:
            raise QueryError(f"query {self.name} ({self.origin}) takes no parameter(s) {', '.join(sorted(unexpected))}")

    @property
    def writes(self) -> bool:
        """Whether the query changes the graph (a clause that creates, sets or deletes), so it
        cannot run in a READ session."""
        code = "\n".join(line for line in self.text.splitlines() if not line.lstrip().startswith("//"))
        return bool(_WRITE_CLAUSE.search(code))


def parse_queries(text: str, filename: str) -> list[Query]:
    """Split one ``.cypher`` file into its named queries."""
    queries: list[Query] = []
    name = None
    start = 0
    doc: list[str] = []
    body: list[str] = []
    in_doc = False

    def flush() -> None:
        if name is None:
            return
        query_text = "\n".join(body).strip()
        if not query_text:
            raise QueryError(f"{filename}:{start}: query {name} has no text")
        code = "\n".join(line for line in body if not line.lstrip().startswith("//"))
        queries.append(Query(name, query_text, " ".join(doc).strip(),
                             frozenset(_PARAM.findall(code)), f"{filename}:{start}"))

    for lineno, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line.strip())
        if header:
            flush()
            name, start, doc, body, in_doc = header.group(1), lineno, [], [], True
        elif name is None:
            if line.strip() and not line.strip().startswith("//"):
                raise QueryError(f"{filename}:{lineno}: text before the first '// name:' header")
        elif in_doc and line.strip().startswith("//"):
            doc.append(line.strip()[2:].strip())
        else:
            in_doc = False
            body.append(line)
    flush()
    return queries


@lru_cache(maxsize=1)
def all_queries() -> dict[str, Query]:
    """Every named query of the installed ``latteprov/cypher/`` directory, by name."""
    found: dict[str, Query] = {}
    folder = resources.files("latteprov.cypher")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".cypher"):
            continue
        for query in parse_queries(entry.read_text(encoding="utf-8"), entry.name):
            if query.name in found:
                raise QueryError(f"query {query.name} is defined twice: {found[query.name].origin} and {query.origin}")
            found[query.name] = query
    return found


def get(name: str) -> Query:
    """The query called ``name``; an unknown name lists what exists."""
    queries = all_queries()
    try:
        return queries[name]
    except KeyError:
        raise QueryError(f"no query named {name!r}; known: {', '.join(sorted(queries))}") from None


def run(tx: Any, name: str, replace: dict[str, str] | None = None, **params: Any) -> Any:
    """Run the named query in ``tx`` (a transaction or session) with ``params``, checked first:
    every parameter it uses given, none it does not use (QueryError otherwise). ``replace``
    substitutes placeholders that cannot be parameters (labels and property names, which the
    caller has checked against the model). The one way latteprov's code runs a named query."""
    query = get(name)
    text = query.text
    for placeholder, value in (replace or {}).items():
        if placeholder not in text:
            raise QueryError(f"query {name} ({query.origin}) has no placeholder {placeholder}")
        text = text.replace(placeholder, value, 1)
    if replace:  # the filled-in text may use parameters of its own ($v0 ...)
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        query = Query(name, text, query.doc, frozenset(_PARAM.findall(code)), query.origin)
    query.check_params(params)
    return tx.run(text, params)
