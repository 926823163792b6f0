"""Run manifests: how job scripts in any language record runs (``latteprov record MANIFEST``).

A manifest is JSON, YAML or JSON Lines (one run per line) and holds one run, a list of runs,
or ``{"runs": [...]}``. Its JSON Schema is :data:`SCHEMA` (published as
``docs/manifest.schema.json``; docs/manifest.md has examples). Everything is read, validated
and built into graph batches before anything is written; then all runs of one call go to the
graph in one transaction (so a rule the graph alone can check still leaves nothing written),
or, offline, to one spool file.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from latteprov import checks, graph, model
from latteprov.errors import InputError
from latteprov.graph import GraphBatch
from latteprov.record import agent, stat_file
from latteprov.spool import SpoolWriter
from latteprov.store import Store, StoreUnavailable

_TEXT = {"type": "string", "minLength": 1, "maxLength": 1000}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a time zone, e.g. 2026-11-25T08:00:00Z."}
_STATE = {"enum": list(model.STATES)}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "latteprov run manifest",
    "description": "One run, a list of runs, or {\"runs\": [...]}; JSON Lines files hold one run per line.",
    "oneOf": [
        {"$ref": "#/$defs/run"},
        {"type": "array", "items": {"$ref": "#/$defs/run"}},
        {"type": "object", "required": ["runs"], "additionalProperties": False,
         "properties": {"runs": {"type": "array", "items": {"$ref": "#/$defs/run"}}}},
    ],
    "$defs": {
        "run": {
            "type": "object", "required": ["kind"], "additionalProperties": False,
            "description": "A job run (PROV activity) with what it used and what it produced.",
            "properties": {
                "uid": {**_TEXT, "description": "Run id; by default derived from the run's content, so recording a manifest twice leaves one run."},
                "kind": {**_TEXT, "description": "What the job does: solve, contract, average ..."},
                "name": {**_TEXT, "description": "Readable name (default: kind and job id)."},
                "command": {**_TEXT, "description": "Command line that ran."},
                "code_version": {**_TEXT, "description": "Version of the code (git describe, container tag)."},
                "host": {**_TEXT, "description": "Machine it ran on (default: the recording machine)."},
                "user": {**_TEXT, "description": "Who ran it (default: the recording user)."},
                "job_id": {"type": ["string", "integer"], "description": "Batch-system or task-manager job id."},
                "params": {"type": "object", "description": "Parameters of the run."},
                "started_at": _TIME,
                "ended_at": _TIME,
                "exit_state": {**_STATE, "default": "done", "description": "running for a run that has only started; its outputs take this state unless they name their own."},
                "inputs": {"type": "array", "items": {"$ref": "#/$defs/ref"}, "description": "What the run used."},
                "outputs": {"type": "array", "items": {"$ref": "#/$defs/output"}, "description": "What the run produced."},
            },
        },
        "ref": {
            "description": "An entity: its uid, its name (in this manifest or the graph), or a full description.",
            "oneOf": [_TEXT, {"$ref": "#/$defs/entity"}],
        },
        "entity": {
            "type": "object", "required": ["kind"], "additionalProperties": False,
            "properties": {
                "kind": {**_TEXT, "description": "Class name: OneToAll, GaugeConfig, MobiusDW ... (see docs/model.md)."},
                "name": {**_TEXT, "description": "Readable name, the CalLat file stem where there is one."},
                "props": {"type": "object", "description": "Properties of the class; the natural key makes the uid."},
                "state": _STATE,
            },
        },
        "output": {
            "type": "object", "required": ["kind"], "additionalProperties": False,
            "properties": {
                "kind": {"$ref": "#/$defs/entity/properties/kind"},
                "name": {"$ref": "#/$defs/entity/properties/name"},
                "props": {"$ref": "#/$defs/entity/properties/props"},
                "state": _STATE,
                "inputs": {"type": "object", "description": "DERIVED_FROM role -> entity (or list of entities).",
                           "additionalProperties": {"oneOf": [{"$ref": "#/$defs/ref"},
                                                              {"type": "array", "items": {"$ref": "#/$defs/ref"}}]}},
                "files": {"type": "array", "items": {"oneOf": [_TEXT, {"$ref": "#/$defs/file"}]}},
            },
        },
        "file": {
            "type": "object", "required": ["path"], "additionalProperties": False,
            "properties": {
                "path": _TEXT, "host": {"type": "string"}, "dataset": {"type": "string"},
                "size": {"type": "integer", "minimum": 0}, "expected_size": {"type": "integer", "minimum": 0},
                "checksum": {"type": "string"}, "mtime": _TIME,
                "status": {"enum": list(model.FILE_STATUSES)},
            },
        },
    },
}
_RUN = jsonschema.Draft202012Validator({"$ref": "#/$defs/run", "$defs": SCHEMA["$defs"]},
                                       format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
_TIME_FIELDS = {"started_at", "ended_at", "mtime"}


class ManifestError(InputError):
    """A manifest is unreadable or breaks the schema; the message names the file, run and path."""


@dataclass
class ManifestRun:
    """One run of a manifest, with where it came from (for error messages)."""

    data: dict
    where: str


def _plain(value: Any) -> Any:
    """YAML's dates and times as the ISO strings JSON would have held."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _parse(text: str, label: str) -> list[tuple[Any, str]]:
    """The documents of a manifest text, each with its location (file, or file:line)."""
    try:
        return _parse_text(text, label)
    except RecursionError:  # '[[[[...' a million deep: the parsers recurse per level
        raise ManifestError(f"{label}: nested too deeply") from None


def _refuse_yaml_aliases(text: str, label: str) -> None:
    """Aliases (``*a``) let a few lines expand to billions of nodes ('billion laughs'); manifests need none."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ManifestError(f"{label}: YAML aliases (*name) are not accepted in manifests")
    except yaml.YAMLError:
        pass  # safe_load below reports the syntax error


def _parse_text(text: str, label: str) -> list[tuple[Any, str]]:
    fmt = ("jsonl" if label.endswith((".jsonl", ".ndjson")) else
           "yaml" if label.endswith((".yaml", ".yml")) else
           "json" if label.endswith(".json") else None)
    if fmt is None:  # stdin or another extension: JSON, else JSON Lines, else YAML
        try:
            return [(json.loads(text), label)]
        except json.JSONDecodeError as exc:
            fmt = "jsonl" if exc.msg == "Extra data" else "yaml"
    if fmt == "json":
        try:
            return [(json.loads(text), label)]
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{label}: not valid JSON: {exc}") from None
    if fmt == "jsonl":
        docs = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    docs.append((json.loads(line), f"{label}:{number}"))
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{label}:{number}: not valid JSON: {exc}") from None
        return docs
    _refuse_yaml_aliases(text, label)
    try:
        return [(_plain(yaml.safe_load(text)), label)]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{label}: not valid YAML or JSON: {' '.join(str(exc).split())}") from None


def _runs_of(doc: Any, where: str) -> list[ManifestRun]:
    if isinstance(doc, dict) and "runs" in doc and "kind" not in doc:
        if set(doc) != {"runs"} or not isinstance(doc["runs"], list):
            raise ManifestError(f"{where}: a manifest with 'runs' holds only a list of runs")
        items, prefix = doc["runs"], "$.runs"
    elif isinstance(doc, list):
        items, prefix = doc, "$"
    elif isinstance(doc, dict):
        return [ManifestRun(doc, where)]
    else:
        raise ManifestError(f"{where}: a manifest is a run, a list of runs or {{\"runs\": [...]}}, not {type(doc).__name__}")
    return [ManifestRun(item, f"{where}: run {i + 1} ({prefix}[{i}])") for i, item in enumerate(items)]


def validate(run: ManifestRun) -> None:
    """Raise :class:`ManifestError` naming the JSON path of the first schema violation."""
    error = jsonschema.exceptions.best_match(_RUN.iter_errors(run.data))
    if error is not None:
        message = " ".join(error.message.split())
        message = message if len(message) <= 200 else message[:197] + "..."
        raise ManifestError(f"{run.where}: {error.json_path}: {message}")
    for path, value in _times(run.data):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError
        except ValueError:
            raise ManifestError(f"{run.where}: {path}: {value!r} is not an ISO 8601 time with a time zone") from None
        if abs(parsed.utcoffset().total_seconds()) > 18 * 3600:
            raise ManifestError(f"{run.where}: {path}: {value!r}: a UTC offset is at most 18 hours")


def _times(data: Any, path: str = "$") -> Iterable[tuple[str, str]]:
    if isinstance(data, dict):
        for key, value in data.items():
            sub = f"{path}.{key}"
            if key in _TIME_FIELDS and isinstance(value, str):
                yield sub, value
            elif key != "props":  # props are the model's, typed by it
                yield from _times(value, sub)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _times(value, f"{path}[{i}]")


def load(sources: Iterable[str], stdin: str | None = None) -> list[ManifestRun]:
    """Read and validate every run of the manifests ``sources`` (``-`` is ``stdin``)."""
    runs: list[ManifestRun] = []
    for source in sources:
        if source == "-":
            text, label = (stdin if stdin is not None else sys.stdin.read()), "<stdin>"
        else:
            try:
                text, label = Path(source).read_text(encoding="utf-8"), source
            except (OSError, UnicodeDecodeError) as exc:
                raise ManifestError(f"{source}: cannot read: {exc.strerror if isinstance(exc, OSError) else exc}") from None
        found = [run for doc, where in _parse(text, label) for run in _runs_of(doc, where)]
        if not found:
            raise ManifestError(f"{label}: the manifest holds no run")
        runs += found
    for run in runs:
        validate(run)
    return runs


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


@dataclass
class BuiltRun:
    """One manifest run as a graph batch."""

    uid: str
    exit_state: str
    batch: GraphBatch


def _entity(spec: dict, state: str | None, where: str) -> dict:
    clash = sorted({"kind", "name", "state"} & spec.get("props", {}).keys())
    if clash:
        raise ManifestError(f"{where}: props.{clash[0]}: give {clash[0]} beside props, not inside them")
    try:
        return graph.entity(spec["kind"], name=spec.get("name"), state=spec.get("state", state), **spec.get("props", {}))
    except InputError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def build(run: ManifestRun) -> BuiltRun:
    """The batch of one validated manifest run."""
    data, where = run.data, run.where
    state = data.get("exit_state", "done")
    batch = GraphBatch()

    def ref(item: str | dict, path: str) -> str:
        if isinstance(item, str):
            return item
        row = _entity(item, None, f"{where}: {path}")
        batch.entities.append(row)
        return row["uid"]

    used = [ref(item, f"$.inputs[{i}]") for i, item in enumerate(data.get("inputs", []))]
    outputs: list[str] = []
    produced = GraphBatch()
    for j, out in enumerate(data.get("outputs", [])):
        row = _entity(out, state, f"{where}: $.outputs[{j}]")
        produced.entities.append(row)
        outputs.append(row["uid"])
        for role, refs in out.get("inputs", {}).items():
            for k, item in enumerate(refs if isinstance(refs, list) else [refs]):
                target = ref(item, f"$.outputs[{j}].inputs.{role}[{k}]")
                produced.link(row["uid"], target, role)
                used.append(target)
        for k, spec in enumerate(out.get("files", [])):
            spec = {"path": spec} if isinstance(spec, str) else dict(spec)
            if "mtime" in spec:
                spec["mtime"] = _time(spec["mtime"])
            local = stat_file(spec["path"]) if not spec.get("host") and Path(spec["path"]).exists() else {}
            try:
                produced.add_file(row["uid"], **{**local, **spec})
            except InputError as exc:
                raise ManifestError(f"{where}: $.outputs[{j}].files[{k}]: {exc}") from None
    host, user = agent()
    job_id = data.get("job_id")
    job_id = None if job_id is None else str(job_id)
    started = _time(data.get("started_at"))
    uid = data.get("uid") or graph.run_uid(host=data.get("host", host), job_id=job_id, started_at=started,
                                           kind=data["kind"], command=data.get("command"), outputs=outputs)
    try:
        batch.runs.append(graph.run_row(
            uid, kind=data["kind"], name=data.get("name"), command=data.get("command"),
            code_version=data.get("code_version"), host=data.get("host", host), user=data.get("user", user),
            job_id=job_id, params=data.get("params"), started_at=started, ended_at=_time(data.get("ended_at")),
            exit_state=state))
    except InputError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    for target in dict.fromkeys(used):
        batch.link(uid, target, type="USED")
    batch.extend(produced)
    for out in outputs:
        batch.link(out, uid, type="GENERATED_BY")
    return BuiltRun(uid, state, batch)


def _merged(built: list[BuiltRun]) -> GraphBatch:
    """All runs' batches as one; the writer merges rows of one node as recording them one after
    the other would (properties added, differing values reported, the furthest state kept)."""
    merged = GraphBatch()
    for b in built:
        merged.extend(b.batch)
    return merged


@dataclass
class RecordResult:
    """What ``record`` did: written to the graph, or spooled (``spool`` names the file)."""

    runs: int
    written: graph.WriteResult = field(default_factory=graph.WriteResult)
    spool: Path | None = None
    reason: str | None = None


def record(store: Store, sources: Iterable[str], offline: bool = False, stdin: str | None = None) -> RecordResult:
    """Record the runs of the manifests ``sources``: all or nothing, to the graph or (when it
    cannot be reached, or ``offline``) to one spool file."""
    built = [build(run) for run in load(sources, stdin)]
    merged = _merged(built)
    checks.check_batch(merged)  # every rule that needs no graph, before any write or spool
    if not offline:
        try:
            graph.resolve_names(merged, store)
            return RecordResult(len(built), written=graph.write(store, merged))
        except StoreUnavailable:
            reason = f"Neo4j cannot be reached at {store.settings.uri}"
    else:
        reason = "offline"
    with SpoolWriter(store.settings.spool_dir, f"record-{len(built)}-runs") as writer:
        for b in built:
            # 'recorded', also for a run that has only started: the manifest's process ends now, not
            # the job, so sync must not take the end of this file for a job killed mid-run.
            writer.append("recorded", b.batch, b.uid)
    return RecordResult(len(built), spool=writer.path, reason=reason)

