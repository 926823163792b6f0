"""The file-based baseline: regular expressions over the campaign's list of file names.

This is how the field answers provenance questions today: list the files (``ls``, ``hsi ls``)
and match names against the production templates. Every question scans the whole list once,
and only what has a file (on disk, on tape or half-written) can be seen.
"""
from __future__ import annotations

import re
from collections import Counter

from latteprov import synth

FORMFAC = re.compile(r"^formfac_(?P<ens>[^_]+)_(?P<stream>[a-z]+)_(?P<cfg>\d+)_(?P<params>gf.+_mq[\d.]+)"
                     r"_(?P<mom>px-?\d+py-?\d+pz-?\d+)_dt(?P<dt>-?\d+)_Srcs(?P<srcs>[\d-]+)_x\d+y\d+z\d+t\d+"
                     r"_(?P<snk>SS|PS)(?:_[A-Za-z0-9]+)?(?:\.h5)?$")  # a product's name: its file's stem, then its current
MILC = re.compile(r"^(?P<long>l\d+f\d+b\d+(?:m\d+)+)(?P<stream>[a-z]+)\.(?P<cfg>\d+)$")
KIND = re.compile(r"^(prop|spec|seqsrc|seqprop|formfac)_(?P<ens>[^_]+)_")
FLOWED = re.compile(r"^(?P<long>l\d+f\d+b\d+(?:m\d+)+)[a-z]+\.\d+_wflow")


class FileList:
    """A campaign's file names and what the ensemble table says (short tag <-> MILC long tag)."""

    def __init__(self, names: list[str], long_tags: dict[str, str]) -> None:
        self.names = names
        self.long_tags = long_tags
        self.short_tags: dict[str, str] = {}
        for short, long in long_tags.items():  # aliases share a long tag: the first listed is its name
            self.short_tags.setdefault(long, short)

    def _scan(self, pattern: str) -> set[str]:
        rx = re.compile(pattern)
        return {name for name in self.names if rx.match(name)}

    def lineage_3pt(self, name: str) -> set[str]:
        """Files a form-factor file was made from: its sequential propagator and source, the
        forward propagators of the configuration, and the flowed and MILC configurations."""
        m = FORMFAC.match(name)
        if m is None:
            raise ValueError(f"not a form-factor file name: {name}")
        ens, stream, cfg, params, dt = m["ens"], m["stream"], m["cfg"], m["params"], m["dt"]
        particle = "proton_np" if dt.startswith("-") else "proton"
        action = re.escape(params[params.index("_M5"):])
        smear = re.escape(params[:params.index("_M5")])
        head = f"{re.escape(ens)}_{stream}_{cfg}_"
        long = re.escape(self.long_tags[ens])
        return self._scan(
            rf"^(?:seqprop_{head}{particle}_[A-Z]{{2}}_(?:up|dn)_(?:up|dn)_{smear}{action}_{m['mom']}_dt{dt}_Srcs{m['srcs']}_{m['snk']}\.lime"
            rf"|seqsrc_{head}{particle}_[A-Z]{{2}}_(?:up|dn)_(?:up|dn)_{smear}{action}_{m['mom']}_dt{dt}_Nsnk\d+_{m['snk']}\.lime"
            rf"|prop_{head}{smear}{action}_x\d+y\d+z\d+t\d+\.lime"
            rf"|{long}{stream}\.{cfg}_wflow[\d.]+\.lime|{long}{stream}\.{cfg})$")

    def downstream_config(self, milc_name: str) -> set[str]:
        """Files derived from a MILC configuration: everything named after its ensemble, stream
        and number, and its flowed configuration."""
        m = MILC.match(milc_name)
        if m is None:
            raise ValueError(f"not a MILC configuration name: {milc_name}")
        ens = self.short_tags[m["long"]]
        return self._scan(rf"^(?:[a-z]+_{re.escape(ens)}_{m['stream']}_{m['cfg']}_"
                          rf"|{re.escape(milc_name)}_wflow)")

    def action_files(self, M5: float, L5: int, alpha5: float, mq: float) -> set[str]:
        """Files made with one valence action (what an invalidation of it would have to chase)."""
        return self._scan(rf"^.*_{re.escape(synth.ACTION.format(M5=M5, L5=L5, alpha5=alpha5, mq=mq))}_")

    def status(self) -> dict[str, int]:
        """Files that exist, per ensemble (the field's completion count)."""
        counts: Counter[str] = Counter()
        for name in self.names:
            m = KIND.match(name)
            if m:
                counts[m["ens"]] += 1
                continue
            m = MILC.match(name) or FLOWED.match(name)
            if m:
                counts[self.short_tags[m["long"]]] += 1
        return dict(counts)
