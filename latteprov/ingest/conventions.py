"""Naming conventions: which file names and HDF5 dataset paths mean which nodes.

A convention file (TOML, or YAML with the same structure) declares named patterns
(``[types]``), the ensemble tag map (``[ensembles]``), node specs (``[nodes.X]``: kind,
file-name ``template`` in the ``parse`` library's format syntax, ``name`` formats for implied
nodes, fixed values ``set``, renamed ``fields``, ``inputs``) and HDF5 ``[layouts.X]``. The
built-in CalLat preset is ``callat.toml`` next to this module; ``docs/ingest.md`` documents
the format; ``conventions.schema.json`` (JSON Schema) is the shape every document is checked
against before its meaning (kinds, properties, references) is. Facts that need arithmetic rather than a pattern (the MILC long tag's L, T, beta
and sea masses; b5 and c5 from alpha5) are derived here, in :func:`Conventions.enrich`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import jsonschema
import parse
import yaml

from latteprov import model, rows
from latteprov.errors import InputError

PRESET = "callat.toml"
SCHEMA = "conventions.schema.json"
# Entity properties every kind has; a node's own properties come from its fields.
BASE_PROPS = {"uid", "name", "kind", "state", "valid", "created_at", "ensemble", "campaign_step"}
_SPEC = re.compile(r"\{(\w+)(?::[^}]*)?\}")
_SPEC_TYPES = re.compile(r"\{(\w+)(?::([^}]*))?\}")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]+$")


class ConventionError(InputError):
    """A convention file is malformed or contradicts another."""


class NameProblem(InputError):
    """A name fits a template but cannot be turned into nodes (conflict, unknown ensemble ...)."""


def _typed(pattern: str, convert: Any = str) -> Any:
    """A parse type: text matching ``pattern``, converted by ``convert`` (a new function each
    time: parse keeps the pattern on it)."""
    if convert is str:
        def typed(text: str) -> Any:
            return text  # a regex group is a str already
    else:
        def typed(text: str) -> Any:
            return convert(text)
    return parse.with_pattern(pattern)(typed)


# Built-in types: plain numbers (faster than parse's generic ones) and the 'p'-for-point decimal.
BUILTIN_TYPES = {
    "d": _typed(r"[-+]?\d+", int),
    "g": _typed(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", float),
    "pdec": _typed(r"\d+(?:p\d+)?", lambda text: float(text.replace("p", "."))),
}


@dataclass(frozen=True)
class InputSpec:
    """How a node links to one kind of input."""

    node: str
    role: str
    group: tuple[str, ...] = ()    # link every node of `node` ingested together that agrees on these fields
    imply: bool = True             # build the input from the fields (for groups: only when none is found)
    requires: tuple[str, ...] = ()  # skip the input unless these fields are known


@dataclass
class NodeSpec:
    """One kind of node a name or dataset can mean."""

    key: str
    kind: str
    cls: type
    template: str | None
    parser: parse.Parser | None
    names: tuple[str, ...]
    fields: dict[str, str]
    set: dict[str, Any]
    inputs: tuple[InputSpec, ...]
    step: str | None
    origin: str
    props: dict[str, str] = field(default_factory=dict)  # property -> field it is read from
    key_inputs: bool = False                             # identity from the inputs (inputs_key), not the fields
    uses: tuple[str, ...] = ()                           # fields that decide the node and its inputs

    @property
    def extractor(self) -> "_Extractor | None":
        """The template's regex and field conversions, taken from its parser once (None without
        a template, or for one the parser must evaluate itself)."""
        if "_extractor" not in self.__dict__:
            self.__dict__["_extractor"] = _Extractor.of(self.parser) if self.parser is not None else None
        return self.__dict__["_extractor"]

    @property
    def prefix(self) -> str:
        """The literal text before the first placeholder: every name that fits starts with it."""
        return (self.template or "").split("{", 1)[0].replace("}}", "}")

    @property
    def suffix(self) -> str:
        """The literal text after the last placeholder: every name that fits ends with it."""
        return (self.template or "").rsplit("}", 1)[-1].replace("{{", "{") if "}" in (self.template or "") else ""


class _Extractor:
    """A compiled template: the parser's anchored regex and, per named field, its regex group
    and type conversion, so a match converts its fields without building parse's Result (the
    same values: the conversions are the parser's own)."""

    __slots__ = ("regex", "fields", "parser")

    def __init__(self, parser: parse.Parser, fields: tuple[tuple[str, str, Any, bool], ...]) -> None:
        self.parser = parser
        self.regex = parser._match_re
        self.fields = fields

    @classmethod
    def of(cls, parser: parse.Parser) -> "_Extractor | None":
        """The extractor of ``parser``; None where only its own evaluation is right (positional
        or nested ``a[b]`` fields), or its internals are not those of the parse versions known."""
        try:
            if parser._fixed_fields:
                return None
            fields = []
            for group in parser._named_fields:
                name = parser._group_to_name_map[group]
                if not name.isidentifier():
                    return None
                convert = parser._type_conversions.get(group)
                if isinstance(convert, parse.convert_first):  # (text, match) -> converter(text)
                    fields.append((name, group, convert.converter, False))
                else:
                    fields.append((name, group, convert, True))
            return cls(parser, tuple(fields))
        except AttributeError:  # another parse version's internals
            return None

    def fields_of(self, m: re.Match, text: str) -> tuple[dict[str, Any], dict[str, str]]:
        """(typed fields, their text as written) of ``text``, matched as ``m`` by :attr:`regex`."""
        groups = m.groupdict()
        fields: dict[str, Any] = {}
        raw: dict[str, str] = {}
        for name, group, convert, with_match in self.fields:
            value = groups[group]
            if value is None:  # a field that took no part: the parser's own evaluation decides
                result = self.parser.evaluate_result(m)
                return dict(result.named), {k: text[a:b] for k, (a, b) in result.spans.items()}
            raw[name] = value
            fields[name] = value if convert is None else convert(value, m) if with_match else convert(value)
        return fields, raw


@dataclass
class LayoutSpec:
    """A dataset-path template inside HDF5 files and the node each dataset (or row) becomes."""

    key: str
    path: str
    parser: parse.Parser
    node: str | None
    derived: str | None
    meta_input: str | None
    rows: str | None
    index: bool
    set: dict[str, Any]
    origin: str
    concatenate: str | None = None  # layout `derive concatenate` stacks configurations into
    step: str | None = None         # the step of its datasets when neither meta nor the file name says
    meta_step: str | None = None    # the step of the products an average's meta lines name

    def format(self, fields: dict[str, Any]) -> str:
        """The dataset path of this layout for these fields (``pdec`` values written with p)."""
        values = {k: str(v).replace(".", "p") if spec == "pdec" else v
                  for k, spec in _SPEC_TYPES.findall(self.path) for v in [fields.get(k)]}
        missing = [k for k, v in values.items() if v is None]
        if missing:
            raise InputError(f"layout {self.key} needs {', '.join(missing)}")
        return _SPEC.sub(r"{\1}", self.path).format_map(values)


@dataclass
class Match:
    """A file name matched to a node spec: typed fields and their text as written."""

    spec: NodeSpec
    fields: dict[str, Any]
    raw: dict[str, str]


@dataclass
class Conventions:
    """The merged conventions in force."""

    nodes: dict[str, NodeSpec]
    layouts: dict[str, LayoutSpec]
    ensembles: dict[str, str]
    _by_prefix: dict[str, list[tuple[str, NodeSpec]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Dispatch: a name can only fit a template whose literal prefix it starts with and whose
        # literal suffix it ends with, so only those are tried (longest prefix first); no
        # template that could fit is skipped, which keeps two-kind matches detectable.
        for spec in self.nodes.values():
            if spec.parser is not None:
                self._by_prefix.setdefault(spec.prefix, []).append((spec.suffix, spec))
        self._prefix_lengths = sorted({len(p) for p in self._by_prefix}, reverse=True)
        # Aliases share a long tag (a15m310L, a15m310Lfaces ...): the first short tag listed wins.
        self._long_to_short: dict[str, str] = {}
        for short, long in self.ensembles.items():
            self._long_to_short.setdefault(long, short)

    # -- names -------------------------------------------------------------------------------
    def match(self, filename: str) -> Match | None:
        """The node spec ``filename`` fits, with its fields; None when it fits none.

        Two templates of different kinds fitting one name is a :class:`NameProblem`.
        """
        found: list[tuple[NodeSpec, re.Match]] = []
        for length in self._prefix_lengths:
            if length > len(filename):
                continue
            for suffix, spec in self._by_prefix.get(filename[:length], ()):
                if filename.endswith(suffix):
                    # Only the regex runs here; fields are converted for the one match kept.
                    m = spec.parser._match_re.match(filename)
                    if m is not None:
                        found.append((spec, m))
        if not found:
            return None
        if len(found) > 1 and len({spec.kind for spec, _ in found}) > 1:
            raise NameProblem(f"{filename}: fits templates of different kinds: "
                              + ", ".join(f"{spec.key} ({spec.kind}, {spec.origin})" for spec, _ in found))
        spec, m = found[0]
        extractor = spec.extractor
        if extractor is not None:
            fields, raw = extractor.fields_of(m, filename)
            return Match(spec, fields, raw)
        result = spec.parser.parse(filename)
        return Match(spec, dict(result.named), {k: filename[a:b] for k, (a, b) in result.spans.items()})

    def layout(self, dataset: str) -> tuple[LayoutSpec, dict[str, Any]] | None:
        """The layout a dataset path fits, with the fields of the path."""
        for spec in self.layouts.values():
            result = spec.parser.parse(dataset.strip("/"))
            if result is not None:
                return spec, {**spec.set, **result.named}
        return None

    def uid_of(self, spec: NodeSpec, fields: dict[str, Any]) -> str:
        """The uid of the node ``spec`` means with these (enriched) fields, without building it.
        Raises ValueError for a spec identified by its inputs, InputError for bad values."""
        if spec.key_inputs:
            raise ValueError(f"{spec.key} is identified by its inputs, not by fields")
        return rows.entity(spec.kind, **spec_props(spec, filled_fields(spec, fields)))["uid"]

    # -- derived fields ----------------------------------------------------------------------
    def enrich(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Add the fields a convention implies: short <-> long ensemble tag, what the long tag
        encodes, b5/c5 from alpha5, the number of sinks of a source set, parity of a particle."""
        out = dict(fields)
        if out.get("long_tag") and not out.get("ensemble"):
            short = self._long_to_short.get(out["long_tag"])
            if short is None:
                raise NameProblem(f"unknown MILC long tag {out['long_tag']!r}: give its short tag with --ensemble-map")
            out["ensemble"] = short
        if out.get("ensemble") and not out.get("long_tag") and out["ensemble"] in self.ensembles:
            out["long_tag"] = self.ensembles[out["ensemble"]]
        if out.get("long_tag"):
            out.update((k, v) for k, v in decode_long_tag(out["long_tag"]).items() if k not in out)
        if out.get("ensemble"):
            out.update((k, v) for k, v in decode_short_tag(str(out["ensemble"])).items() if k not in out)
        if out.get("alpha5") is not None and out.get("b5") is None:
            alpha5 = float(out["alpha5"])
            out["b5"], out["c5"] = (alpha5 + 1) / 2, (alpha5 - 1) / 2
        if out.get("src_set") and out.get("nsnk") is None:
            first, _, last = str(out["src_set"]).partition("-")
            if first.isdigit() and last.isdigit():
                out["nsnk"] = int(last) - int(first) + 1
        if out.get("avg_set") is not None and out.get("sources") is None:
            out["sources"] = f"src_avg{out['avg_set']}"  # what the file name says it averaged
        if out.get("particle") and out.get("parity") is None:
            out["parity"] = -1 if str(out["particle"]).endswith("_np") else 1
        return out


def filled_fields(spec: NodeSpec, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as ``spec`` sees them: its renamed ``fields`` read, its ``set`` values fixed."""
    f = dict(fields)
    for prop, source in spec.fields.items():
        f[prop] = f.get(source)
    f.update(spec.set)
    return f


def spec_props(spec: NodeSpec, filled: dict[str, Any]) -> dict[str, Any]:
    """The node's properties from its filled fields; a DerivedDataset's step may be given per
    node (the ``step`` field: one layout holds averages and their FFTs)."""
    props = {p: filled[source] for p, source in spec.props.items() if filled.get(source) is not None}
    if spec.step:
        props["step"] = filled.get("step") or spec.step
        if filled.get("inputs_key"):
            props["inputs_key"] = filled["inputs_key"]
    return props



_LONG_2PLUS1PLUS1 = parse.compile("l{dims:d}f{nf:d}b{beta:d}m{ml}m{ms}m{mc}", extra_types=BUILTIN_TYPES)
_LONG_2PLUS1 = parse.compile("l{dims:d}f{nf:d}b{beta:d}m{ml}m{ms}", extra_types=BUILTIN_TYPES)
_SHORT = parse.compile("a{a}m{mpi:d}{suffix}", extra_types=BUILTIN_TYPES)


def _digits_fraction(digits: str) -> float:
    """MILC writes masses as the digits after the point: 0074 -> 0.0074, 440 -> 0.440."""
    return int(digits) / 10 ** len(digits)


@lru_cache(maxsize=1024)
def decode_long_tag(long_tag: str) -> dict[str, Any]:
    """L, T, flavours, beta and sea masses from a MILC long tag (empty if it is not one)."""
    result = _LONG_2PLUS1PLUS1.parse(long_tag) or _LONG_2PLUS1.parse(long_tag)
    if result is None:
        return {}
    named = result.named
    dims = str(named["dims"])
    half = len(dims) // 2
    nf = "+".join(str(named["nf"]))
    out = {"long_tag": long_tag, "nx": int(dims[:half]), "nt": int(dims[half:]),
           "nf": nf, "beta": named["beta"] / 100,
           "ml": _digits_fraction(named["ml"]), "ms": _digits_fraction(named["ms"])}
    if "mc" in named:
        out["mc"] = _digits_fraction(named["mc"])
    elif nf == "3+1":  # l3264f31b600m00507m628: three degenerate light quarks, then the charm
        out["ms"], out["mc"] = out["ml"], out["ms"]
    return out


@lru_cache(maxsize=1024)
def decode_short_tag(tag: str) -> dict[str, Any]:
    """Approximate lattice spacing and pion mass from a short tag like a09m310 or a06m310L."""
    result = _SHORT.parse(tag + " ")
    if result is None or not result.named["a"].isdigit():
        return {}
    return {"a_fm": _digits_fraction(result.named["a"]), "mpi_mev": float(result.named["mpi"])}


# -- loading ---------------------------------------------------------------------------------
def _read(path: Path | str, text: str | None = None) -> dict:
    """A convention document as a dict (TOML, or YAML by extension)."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8") if text is None else text
    except OSError as exc:
        raise ConventionError(f"{name}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) if name.endswith((".yaml", ".yml")) else tomllib.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConventionError(f"{name}: not valid {'YAML' if name.endswith(('.yaml', '.yml')) else 'TOML'}: "
                              + str(exc).splitlines()[0]) from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        message = " ".join(error.message.split())
        message = message if len(message) <= 200 else message[:197] + "..."
        raise ConventionError(f"{name}: {where + ': ' if where else ''}{message}")
    return data


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    """The validator of ``conventions.schema.json``, the shape every convention document has."""
    schema = json.loads(resources.files("latteprov.ingest").joinpath(SCHEMA).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def read_ensemble_map(path: Path) -> dict[str, str]:
    """Short -> long tags from a file of ``SHORT LONG`` (or ``SHORT = LONG``) lines."""
    out: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConventionError(f"{path}: cannot read: {exc.strerror}") from None
    for lineno, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].replace("=", " ").replace('"', " ").strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ConventionError(f"{path}:{lineno}: expected 'SHORT_TAG LONG_TAG', got {line!r}")
        out[parts[0]] = parts[1]
    return out


def load(paths: list[Path] | tuple[Path, ...] = (), ensemble_map: Path | None = None,
         preset: bool = True) -> Conventions:
    """The preset (unless ``preset`` is False) merged with the given convention files.

    A node or layout key defined twice, or a short tag mapped to two long tags by two
    convention files, is a :class:`ConventionError` naming both places; ``ensemble_map``
    entries override the files' tags.
    """
    documents: list[tuple[str, dict]] = []
    if preset:
        text = resources.files("latteprov.ingest").joinpath(PRESET).read_text(encoding="utf-8")
        documents.append((PRESET, _read(PRESET, text)))
    documents += [(str(p), _read(p)) for p in paths]
    types = dict(BUILTIN_TYPES)
    ensembles: dict[str, tuple[str, str]] = {}
    raw_nodes: dict[str, tuple[str, dict]] = {}
    raw_layouts: dict[str, tuple[str, dict]] = {}
    for origin, doc in documents:
        for name, pattern in (doc.get("types") or {}).items():
            try:
                re.compile(str(pattern))
            except re.error as exc:
                raise ConventionError(f"{origin}: type {name}: bad pattern {pattern!r}: {exc}") from None
            types[name] = _typed(str(pattern))
        for short, long in (doc.get("ensembles") or {}).items():
            if short in ensembles and ensembles[short][0] != long:
                raise ConventionError(f"ensemble {short} maps to {ensembles[short][0]} ({ensembles[short][1]}) "
                                      f"and to {long} ({origin})")
            ensembles[short] = (str(long), origin)
        for section, target in (("nodes", raw_nodes), ("layouts", raw_layouts)):
            for key, body in (doc.get(section) or {}).items():
                if key in target:
                    raise ConventionError(f"duplicate {section[:-1]} name {key!r}: in {target[key][0]} and in {origin}")
                target[key] = (origin, body)
    nodes = {key: _node_spec(key, body, origin, types) for key, (origin, body) in raw_nodes.items()}
    layouts = {key: _layout_spec(key, body, origin, types) for key, (origin, body) in raw_layouts.items()}
    _check_references(nodes, layouts)
    for spec in nodes.values():
        _resolve_uses(spec, nodes, ())
    tags = {short: long for short, (long, _) in ensembles.items()}
    if ensemble_map is not None:
        tags.update(read_ensemble_map(ensemble_map))  # the user's map is the last word
    return Conventions(nodes, layouts, tags)


@lru_cache(maxsize=1)
def preset() -> Conventions:
    """The CalLat preset alone, loaded once (for lookups; ingest commands load their own)."""
    return load()


@lru_cache(maxsize=1)
def preset_ensembles() -> dict[str, str]:
    """Short -> MILC long tags of the CalLat preset (``callat.toml``, from CalLat's
    ``scripts/c51_mdwf_hisq.py``)."""
    text = resources.files("latteprov.ingest").joinpath(PRESET).read_text(encoding="utf-8")
    return {str(k): str(v) for k, v in (_read(PRESET, text).get("ensembles") or {}).items()}


def _compile(template: str, types: dict, where: str) -> parse.Parser:
    try:
        return parse.compile(template, extra_types=types, case_sensitive=True)
    except (ValueError, KeyError, re.error) as exc:
        raise ConventionError(f"{where}: bad template {template!r}: {exc}") from None


def _node_spec(key: str, body: dict, origin: str, types: dict) -> NodeSpec:
    where = f"{origin}: nodes.{key}"  # its shape is the schema's (checked by _read)
    try:
        cls = model.kind_class(str(body["kind"]))
    except InputError as exc:
        raise ConventionError(f"{where}: {exc}") from None
    if not issubclass(cls, model.Entity) or not cls.natural_key:
        raise ConventionError(f"{where}: {cls.__name__} is not a concrete entity kind")
    template = body.get("template")
    names = body.get("name", [])
    names = [names] if isinstance(names, str) else list(names)
    if template:
        stem = _SPEC.sub(r"{\1}", str(template))
        # The node name is the file name without its extension (a literal suffix after the last field).
        if not stem.endswith("}"):
            stem = _EXTENSION.sub("", stem)
        names.insert(0, stem)
    if cls is model.DerivedDataset and not body.get("step"):
        raise ConventionError(f"{where}: a DerivedDataset needs a step")
    inputs = []
    for item in body.get("inputs", []):
        inputs.append(InputSpec(str(item["node"]), str(item["role"]), tuple(item.get("group", ())),
                                bool(item.get("imply", not item.get("group"))), tuple(item.get("requires", ()))))
    fields = {str(k): str(v) for k, v in (body.get("fields") or {}).items()}
    fixed = dict(body.get("set") or {})
    defined = cls.defined_properties(aliases=False, rels=False)
    for prop in (*fields, *fixed):
        if prop not in defined:
            raise ConventionError(f"{where}: {cls.__name__} has no property {prop!r}")
    spec = NodeSpec(key, cls.__name__, cls, str(template) if template else None,
                    _compile(str(template), types, where) if template else None,
                    tuple(_SPEC.sub(r"{\1}", n) for n in names), fields, fixed, tuple(inputs),
                    body.get("step"), origin, key_inputs=body.get("identity") == "inputs")
    own = [p for p in defined if p not in BASE_PROPS | {"step", "inputs_key", "params"}]
    if not issubclass(cls, model.Action):
        own.append("ensemble")  # per-ensemble entities carry their ensemble; shared actions do not
    spec.props = {p: fields.get(p, p) for p in own}
    return spec


def _layout_spec(key: str, body: dict, origin: str, types: dict) -> LayoutSpec:
    where = f"{origin}: layouts.{key}"  # its shape is the schema's (checked by _read)
    return LayoutSpec(key, str(body["path"]), _compile(str(body["path"]).strip("/"), types, where),
                      body.get("node"), body.get("derived"), body.get("meta_input"), body.get("rows"),
                      bool(body.get("index")), dict(body.get("set") or {}), origin,
                      body.get("concatenate"), body.get("step"), body.get("meta_step"))


def _check_references(nodes: dict[str, NodeSpec], layouts: dict[str, LayoutSpec]) -> None:
    for spec in nodes.values():
        for inp in spec.inputs:
            if inp.node not in nodes:
                raise ConventionError(f"{spec.origin}: nodes.{spec.key}: input {inp.node!r} is not a node")
    for lay in layouts.values():
        for ref in (lay.node, lay.derived, lay.meta_input):
            if ref and ref not in nodes:
                raise ConventionError(f"{lay.origin}: layouts.{lay.key}: {ref!r} is not a node")
        for ref in (lay.concatenate,):
            if ref and ref not in layouts:
                raise ConventionError(f"{lay.origin}: layouts.{lay.key}: {ref!r} is not a layout")


def _resolve_uses(spec: NodeSpec, nodes: dict[str, NodeSpec], path: tuple[str, ...]) -> tuple[str, ...]:
    """The fields a node's identity, name and inputs depend on (the builder caches on them)."""
    if spec.key in path:
        raise ConventionError(f"{spec.origin}: nodes.{spec.key}: inputs form a loop: {' -> '.join((*path, spec.key))}")
    if spec.uses:
        return spec.uses
    used = set(spec.props.values())
    if spec.step:
        used.update(("step", "inputs_key"))  # a derived node's step (and location key) can be given per node
    for name in spec.names:
        used.update(_SPEC.findall(name))
    for inp in spec.inputs:
        used.update(inp.group, inp.requires)
        used.update(_resolve_uses(nodes[inp.node], nodes, (*path, spec.key)))
    used -= set(spec.set)
    spec.uses = tuple(sorted(used))
    return spec.uses
