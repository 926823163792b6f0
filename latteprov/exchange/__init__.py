"""Exchange with the rest of the field: what leaves the graph and what comes into it.

- :mod:`~latteprov.exchange.subgraph`: the part of the graph an export carries (a product's
  lineage, its impact, or everything), self-contained;
- :mod:`~latteprov.exchange.provdoc`: W3C PROV (PROV-JSON, PROV-N, PROV-XML) through ``prov``;
- :mod:`~latteprov.exchange.archive`: latteprov archives (JSON Lines) between two databases;
- :mod:`~latteprov.exchange.qcdml`: ILDG QCDml configuration and ensemble documents.

The neo4j-admin bulk export of the whole store is :mod:`latteprov.export`. Everything that
comes in is written through :func:`latteprov.graph.write_in_tx`, with the checks of every write.
"""
