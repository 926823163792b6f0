"""latteprov: provenance of lattice-QCD data products, kept as a graph in Neo4j."""

__version__ = "0.1.0"
