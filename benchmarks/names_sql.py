"""The relational floor of onboarding names: a short script that parses the CalLat file names
with regular expressions, loads them and links each product to its configuration and its
propagator, in SQLite (executemany) and in PostgreSQL (``COPY``), timed on the same names.

What it does is what a group would write in an afternoon: one table of products keyed by name
(kind, ensemble, stream, configuration, parameters), one of links; the links are made by SQL
(a join on the configuration key, and a propagator looked up by name). It knows nothing of the
actions, sources, groups, states or checks latteprov records, so its rate is a floor no graph
of the same names can beat, not a like-for-like comparison.
"""
from __future__ import annotations

import io
import re
import sqlite3
import time
from pathlib import Path

PRODUCT = re.compile(r"^(?P<kind>[a-z]+(?:_4D(?:_tslice(?:_src)?(?:_avg)?)?)?)_(?P<ens>[^_]+)_(?P<stream>[^_]+)_"
                     r"(?P<cfg>\d+)_(?P<rest>.+?)(?:\.(?:lime|h5))?$")
CONFIG = re.compile(r"^(?P<long>l\d+f\d+b\d+(?:m\d+)+)(?P<stream>[a-z])\.(?P<cfg>\d+)(?P<flow>_wflow[\d.]+\.lime)?$")
TABLES = ("CREATE TABLE product (name TEXT PRIMARY KEY, kind TEXT, ensemble TEXT, stream TEXT, config INTEGER, "
          "params TEXT)",
          "CREATE TABLE link (derived TEXT, input TEXT, role TEXT)",
          "CREATE INDEX product_config ON product (ensemble, stream, config, kind)")
LINKS = ("INSERT INTO link SELECT p.name, c.name, 'gauge' FROM product p JOIN product c ON c.kind = 'cfg' "
         "AND c.ensemble = p.ensemble AND c.stream = p.stream AND c.config = p.config WHERE p.kind <> 'cfg'",
         "INSERT INTO link SELECT s.name, p.name, 'light' FROM product s JOIN product p "
         "ON p.name = 'prop' || substr(s.name, 5) WHERE s.kind = 'spec'")


def parse(names: list[str], long_to_short: dict[str, str]) -> list[tuple]:
    """(name, kind, ensemble, stream, config, params) of each name a pattern fits."""
    rows = []
    for name in names:
        m = PRODUCT.match(name)
        if m:
            rows.append((m["kind"] + "_" + m["ens"] + "_" + m["stream"] + "_" + m["cfg"] + "_" + m["rest"],
                         m["kind"], m["ens"], m["stream"], int(m["cfg"]), m["rest"]))
            continue
        m = CONFIG.match(name)
        if m:
            rows.append((name, "flowed" if m["flow"] else "cfg", long_to_short.get(m["long"]), m["stream"],
                         int(m["cfg"]), m["flow"]))
    return rows


def sqlite_rate(names: list[str], long_to_short: dict[str, str], path: Path) -> dict:
    """Parse, load and link ``names`` in a SQLite file: names per second, rows, links."""
    t = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    for statement in TABLES:
        conn.execute(statement)
    rows = parse(names, long_to_short)
    conn.executemany("INSERT OR IGNORE INTO product VALUES (?, ?, ?, ?, ?, ?)", rows)
    for statement in LINKS:
        conn.execute(statement)
    conn.commit()
    links = conn.execute("SELECT count(*) FROM link").fetchone()[0]
    conn.close()
    seconds = time.perf_counter() - t
    return {"names_per_s": round(len(names) / seconds), "seconds": round(seconds, 2), "rows": len(rows), "links": links}


def postgres_copy_rate(names: list[str], long_to_short: dict[str, str], conninfo: str) -> dict:
    """The same in PostgreSQL, loaded with ``COPY ... FROM STDIN`` (its fastest load)."""
    import psycopg

    t = time.perf_counter()
    with psycopg.connect(conninfo) as conn:
        for table in ("link", "product"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in TABLES:
            conn.execute(statement)
        rows = parse(names, long_to_short)
        with conn.cursor().copy("COPY product FROM STDIN") as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(r"\N" if v is None else str(v) for v in row) + "\n")
            copy.write(buffer.getvalue())
        for statement in LINKS:
            conn.execute(statement)
        conn.commit()
        links = conn.execute("SELECT count(*) FROM link").fetchone()[0]
    seconds = time.perf_counter() - t
    return {"names_per_s": round(len(names) / seconds), "seconds": round(seconds, 2), "rows": len(rows), "links": links}
