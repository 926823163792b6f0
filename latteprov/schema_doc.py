"""The schema described from the model classes: as data (``describe``) and as Markdown
(``markdown``, the source of docs/model.md)."""
from __future__ import annotations

from neomodel import StructuredNode

from latteprov import model

DIRECTIONS = {1: "outgoing", -1: "incoming", 0: "either"}


def _type_name(prop: object) -> str:
    name = type(prop).__name__
    if name == "ArrayProperty":
        return f"list of {_type_name(prop.base_property)}"
    return {"DateTimeNeo4jFormatProperty": "datetime"}.get(name, name.removesuffix("Property").lower())


def _declared_in(cls: type[StructuredNode], name: str) -> str:
    """The class that declares property or relationship ``name`` (the nearest in the MRO)."""
    return next(base.__name__ for base in cls.__mro__ if name in vars(base))


def describe() -> list[dict]:
    """Every class of the schema with its labels, doc, natural key, properties and relationships."""
    out = []
    for cls in model.all_classes():
        props = cls.defined_properties(aliases=False, rels=False)
        rels = cls.defined_properties(aliases=False, properties=False, rels=True)
        out.append({
            "name": cls.__name__,
            "labels": model.labels_of(cls),
            "doc": " ".join((cls.__doc__ or "").split()),
            "natural_key": list(getattr(cls, "natural_key", ())),
            "properties": [{"name": name, "type": _type_name(prop), "required": bool(prop.required),
                            "unique": bool(prop.unique_index), "indexed": bool(prop.index or prop.unique_index),
                            "choices": list(prop.choices) if getattr(prop, "choices", None) else None,
                            "help": prop.help_text or "", "declared_in": _declared_in(cls, name)}
                           for name, prop in props.items()],
            "relationships": [{"name": name, "type": rel.definition["relation_type"],
                               "direction": DIRECTIONS[rel.definition["direction"]],
                               "target": rel._raw_class if isinstance(rel._raw_class, str) else rel._raw_class.__name__,
                               "model": rel.definition["model"].__name__ if rel.definition.get("model") else None,
                               "declared_in": _declared_in(cls, name)}
                              for name, rel in rels.items()],
        })
    return out


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("<", "\\<")


def markdown() -> str:
    """docs/model.md: every class, property (type, flags, help) and relationship."""
    lines = ["# The latteprov graph model", "",
             "Generated from `latteprov/model.py` by `latteprov schema --format md`; do not edit by hand.",
             "Each class lists the properties and relationships it declares; inherited ones are named",
             "under *Inherits from*.", "",
             "## Identity", "",
             "Every entity's `uid` is a hash of its class name and its natural-key values (a key with no",
             "value is left out of the hash, so a natural key can grow an optional field without changing",
             "the uid of any node that does not have it). Recording the same object twice gives one node.",
             "",
             "A post-processing product (`DerivedDataset`) is the physics object at its step: its `step`",
             "(tslice, average, fft, project ...), the correlator's fields (ensemble, stream, configuration,",
             "particle, spin or `spin_avg`, flavour/spin, current, tsep, momentum, the source, or for an",
             "average the averaged source set `sources`) and the step's parameters (`t0`, `nt`,",
             "`max_momentum`, `time_reversed`). So two different datasets are never one node, the tslice",
             "of a 4D correlator named by an average's `meta` line is the node its own file gave, and a",
             "dataset with no `meta` is a product of its own (with no inputs; where nothing in its name or",
             "path says which object it is, its location `FILE:DATASET` does, through `inputs_key`).",
             "Products that carry no physics fields (a user step's outputs, a concatenation) are told apart",
             "by `inputs_key`, a digest of their inputs. A 4D (position-space) correlator carries",
             "`space = position`, so it is never the momentum-space correlator of the same source.",
             "",
             "Names are readable and unique: a file's stem for a file-level product, `FILE:DATASET` for a",
             "dataset of an HDF5 file (which is also its location: every command that takes an ID accepts",
             "it), the stem plus what tells them apart for products sharing a file (`..._spin_up`, `..._A3`).",
             ""]
    for cls in describe():
        lines += [f"## {cls['name']}", "", _cell(cls["doc"]), "",
                  f"- Labels: {', '.join(f'`{label}`' for label in cls['labels'])}"]
        if cls["natural_key"]:
            lines.append(f"- Natural key: {', '.join(f'`{k}`' for k in cls['natural_key'])}")
        inherited: dict[str, list[str]] = {}
        for item in cls["properties"] + cls["relationships"]:
            if item["declared_in"] != cls["name"]:
                inherited.setdefault(item["declared_in"], []).append(f"`{item['name']}`")
        for base, names in inherited.items():
            lines.append(f"- Inherits from {base}: {', '.join(names)}")
        own = [p for p in cls["properties"] if p["declared_in"] == cls["name"]]
        if own:
            lines += ["", "| property | type | flags | description |", "|---|---|---|---|"]
            for p in own:
                flags = [f for f, on in (("required", p["required"]), ("unique", p["unique"]),
                                         ("indexed", p["indexed"] and not p["unique"])) if on]
                if p["choices"]:
                    flags.append("one of " + ", ".join(p["choices"]))
                lines.append(f"| `{p['name']}` | {p['type']} | {_cell(', '.join(flags))} | {_cell(p['help'])} |")
        own_rels = [r for r in cls["relationships"] if r["declared_in"] == cls["name"]]
        if own_rels:
            lines += ["", "| relationship | type | direction | target | properties |", "|---|---|---|---|---|"]
            for r in own_rels:
                lines.append(f"| `{r['name']}` | `{r['type']}` | {r['direction']} | {r['target']} | {r['model'] or ''} |")
        lines.append("")
    lines += ["## Relationship properties", "", "| relationship model | property | type | description |", "|---|---|---|---|"]
    for rel_model in (model.Derivation,):
        for name, prop in rel_model.defined_properties(aliases=False, rels=False).items():
            lines.append(f"| {rel_model.__name__} | `{name}` | {_type_name(prop)} | {_cell(prop.help_text or '')} |")
    return "\n".join(lines).rstrip() + "\n"
