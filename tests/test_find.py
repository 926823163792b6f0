"""The filter language and find/count: typed values, checked names, parameters only."""
from __future__ import annotations

import csv
import re
import io
import json

import pytest

from latteprov import find, graph
from latteprov.errors import InputError
from latteprov.find import Filter, parse_filter, parse_filters


@pytest.mark.parametrize("text, expected", [
    ("x<=3", Filter("x", "<=", "3")), ("x >= 3", Filter("x", ">=", "3")), ("name!=a", Filter("name", "!=", "a")),
    ("name~X3Y3", Filter("name", "~", "X3Y3")), ("quark_mass=0.00951", Filter("quark_mass", "=", "0.00951")),
    ("name=a=b", Filter("name", "=", "a=b")), ("x<3", Filter("x", "<", "3")), ("x>3", Filter("x", ">", "3")),
])
def test_parse_filter(text, expected) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", ["x", "=3", "3x=1", "x!3", "n.x) DETACH DELETE n //=1", ""])
def test_malformed_filters_are_refused_naming_them(text) -> None:
    with pytest.raises(InputError, match="bad filter"):
        parse_filter(text)


def found(store, kind: str, *filters: str, **options) -> list[str]:
    return [n["name"] for n in find.find(store, kind, parse_filters(filters), **options)]


def test_numeric_comparisons_use_the_declared_type(store, campaign) -> None:
    assert found(store, "OneToAll", "x>3", "ensemble=a09m310") == ["prop_a09m310_e_300_x10y0z1t14",
                                                                   "prop_a09m310_e_306_x10y0z1t14"]
    assert len(found(store, "OneToAll", "x<=3")) == 4
    assert len(found(store, "Propagator", "config=306", "ensemble!=a12m310")) == 2 + 2  # one-to-all + sequential (two tseps)


def test_contains_is_case_insensitive(store, campaign) -> None:
    assert len(found(store, "Source", "name~X3Y3Z19")) == 4


def test_booleans_and_choices(store, campaign) -> None:
    assert len(found(store, "Sequential", "state=planned", "valid=true")) == 8
    assert found(store, "Sequential", "valid=false") == []
    with pytest.raises(InputError, match="not a boolean"):
        find.find(store, "Sequential", parse_filters(["valid=maybe"]))
    with pytest.raises(InputError, match="not one of"):
        find.find(store, "Sequential", parse_filters(["state=finished"]))


def test_datetimes_compare_as_datetimes(store, campaign) -> None:
    assert len(found(store, "Ensemble", "created_at>2000-01-01")) == 2
    assert found(store, "Ensemble", "created_at<2000-01-01T00:00:00+00:00") == []


def test_datetime_filters_compare_instants_not_their_spelling(store) -> None:
    from datetime import datetime, timedelta, timezone

    batch = graph.GraphBatch()
    start = datetime(2026, 11, 25, 1, 0, tzinfo=timezone(timedelta(hours=-5)))  # 06:00 UTC
    batch.runs.append(graph.run_row("run:ny", started_at=start, exit_state="done"))
    batch.runs.append(graph.run_row("run:utc", started_at=datetime(2026, 11, 25, 7, 0, tzinfo=timezone.utc)))
    graph.write(store, batch)
    uids = lambda *texts: sorted(r["uid"] for r in find.find(store, "Run", parse_filters(list(texts))))  # noqa: E731
    assert uids("started_at=2026-11-25T06:00:00Z") == ["run:ny"]
    assert uids("started_at=2026-11-25T07:00:00+01:00") == ["run:ny"]  # the same instant, spelt otherwise
    assert uids("started_at=2026-11-25T01:00:00+01:00") == []  # the same wall time, another instant
    assert uids("started_at>=2026-11-25T06:00:00+00:00") == ["run:ny", "run:utc"]
    assert uids("started_at!=2026-11-25T02:00:00-04:00") == ["run:utc"]
    assert uids("started_at<2026-11-25T07:00:00Z") == ["run:ny"]


def test_order_limit_offset_and_count(store, campaign) -> None:
    names = found(store, "GaugeConfig", "flow_time=1.0", order_by="config", descending=True)
    assert [n.split(".")[1][:3] for n in names] == ["306", "306", "300", "300"]
    assert found(store, "GaugeConfig", limit=2, offset=1) == sorted(found(store, "GaugeConfig"))[1:3]
    assert find.count(store, "Entity", parse_filters(["ensemble=a12m310"])) == \
        len(found(store, "Entity", "ensemble=a12m310"))


@pytest.mark.parametrize("kind, text, message", [
    ("OneToAll", "origin_x>3", "no property 'origin_x'"),
    ("OneToAll", "x=abc", "x=abc"),
    ("Ensemble", "nx=1.5", "nx=1.5"),
    ("Ensemble", "created_at>yesterday", "not an ISO date"),
    ("Quark", "x=1", "unknown kind 'Quark'"),
    ("WebUser", "username=admin", "cannot be searched"),
])
def test_bad_names_and_values_are_refused_naming_them(store, kind, text, message) -> None:
    with pytest.raises(InputError, match=message):
        find.find(store, kind, parse_filters([text]))


def test_order_by_an_unknown_property_is_refused(store) -> None:
    with pytest.raises(InputError, match="no property 'name; MATCH'"):
        find.find(store, "OneToAll", [], order_by="name; MATCH")


def test_injection_attempts_have_no_effect(store, campaign, cli) -> None:
    nodes = store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"]
    for text in ["name=x'}) DETACH DELETE n //", 'name=x"}) DETACH DELETE n //', "name~') DETACH DELETE n //"]:
        assert find.find(store, "OneToAll", parse_filters([text])) == []
        result = cli("find", "OneToAll", text, "--format", "json")
        assert result.exit_code == 0 and json.loads(result.output) == []
    result = cli("find", "OneToAll`) DETACH DELETE n //", "x=1")
    assert result.exit_code == 1 and "unknown kind" in result.output
    assert store.run_text("MATCH (n) RETURN count(n) AS n")[0]["n"] == nodes


def test_find_command_formats(cli, campaign) -> None:
    rows = json.loads(cli("find", "OneToAll", "x>3", "ensemble=a09m310", "--format", "json").output)
    assert [r["props"]["x"] for r in rows] == [10, 10]
    assert set(rows[0]) == {"uid", "name", "kind", "labels", "props", "state", "valid"}
    table = list(csv.DictReader(io.StringIO(cli("find", "OneToAll", "x>3", "--format", "csv").output)))
    assert len(table) == 4 and table[0]["x"] == "10" and table[0]["kind"] == "OneToAll"
    first = cli("find", "OneToAll", "x>3", "--limit", "1", "--format", "csv").output.splitlines()
    assert len(first) == 2 and "prop_a09m310_e_300_x10y0z1t14" in first[1]
    assert len(re.findall(r"│ (?:True|False) +│", cli("find", "OneToAll", "x>3").output)) == 4  # a row per node


@pytest.mark.parametrize("args, message", [(("find", "OneToAll", "x"), "bad filter 'x'"),
                                           (("find", "OneToAll", "foo=1"), "no property 'foo'"),
                                           (("find", "OneToAll", "x=abc"), "x=abc"),
                                           (("find", "Nope"), "unknown kind")])
def test_find_command_bad_input(cli, campaign, args, message) -> None:
    result = cli(*args)
    assert result.exit_code == 1 and message in result.output and result.output.count("\n") == 1
